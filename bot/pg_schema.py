"""The PostgreSQL schema, one migration per version (``rashut_schema.version``), each run once, in
order, under an advisory lock so replicas starting together migrate once. The tables mirror the
SQLite schema (``bot.sqlite_schema``) at the same version; never edit a migration that has shipped.
"""
from __future__ import annotations

MIGRATION_LOCK = 0x7261736875740001  # pg_advisory_lock key: "rashut" + 1
EDIT_LOCK = 0x7261736875740002  # serialises curators' edits of the shared knowledge folder
KB_CHANNEL = "rashut_kb"  # LISTEN/NOTIFY: the content hash of a base a replica just loaded

MIGRATIONS: tuple[str, ...] = (
    # 1: everything SQLite has at its version 2
    """
    CREATE TABLE questions (
        id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, channel TEXT NOT NULL, chat_type TEXT NOT NULL,
        user_hash TEXT, kind TEXT NOT NULL, entry_id TEXT, score DOUBLE PRECISION);
    CREATE INDEX questions_ts ON questions(ts);
    CREATE TABLE unanswered (
        id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL,
        channel TEXT NOT NULL, chat_type TEXT NOT NULL, user_hash TEXT, kind TEXT NOT NULL,
        candidates TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'open',
        entry_id TEXT, resolved_ts DOUBLE PRECISION);
    CREATE INDEX unanswered_status ON unanswered(status, ts);
    CREATE TABLE feedback (
        id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, entry_id TEXT NOT NULL, vote INTEGER NOT NULL,
        user_hash TEXT NOT NULL, channel TEXT NOT NULL, UNIQUE(entry_id, user_hash));
    CREATE TABLE inbox (
        id BIGSERIAL PRIMARY KEY, channel TEXT NOT NULL, key TEXT NOT NULL, lane TEXT NOT NULL,
        payload BYTEA, ts DOUBLE PRECISION NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
        owner TEXT, lease_until DOUBLE PRECISION, attempts INTEGER NOT NULL DEFAULT 0,
        UNIQUE(channel, key));
    CREATE INDEX inbox_pending ON inbox(status, id);
    CREATE INDEX inbox_lane ON inbox(lane, status, id);
    CREATE TABLE conversations (chat_key TEXT PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, data TEXT NOT NULL);
    CREATE TABLE jobs (name TEXT NOT NULL, period TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL,
                       PRIMARY KEY(name, period));
    """,
)
