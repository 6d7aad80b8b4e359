"""The SQLite schema, one migration per version (``PRAGMA user_version``); each runs once, in order.

Never edit a migration that has shipped: add the next one.
"""
from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: initial schema
    """
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY, ts REAL NOT NULL, channel TEXT NOT NULL, chat_type TEXT NOT NULL,
        user_hash TEXT, kind TEXT NOT NULL, entry_id TEXT, score REAL);
    CREATE INDEX questions_ts ON questions(ts);
    CREATE TABLE unanswered (
        id INTEGER PRIMARY KEY, ts REAL NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL,
        channel TEXT NOT NULL, chat_type TEXT NOT NULL, user_hash TEXT, kind TEXT NOT NULL,
        candidates TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'open',
        entry_id TEXT, resolved_ts REAL);
    CREATE INDEX unanswered_status ON unanswered(status, ts);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY, ts REAL NOT NULL, entry_id TEXT NOT NULL, vote INTEGER NOT NULL,
        user_hash TEXT NOT NULL, channel TEXT NOT NULL, UNIQUE(entry_id, user_hash));
    CREATE TABLE updates (update_id INTEGER PRIMARY KEY, ts REAL NOT NULL);
    """,
    # 2: the durable inbox (replaces the bare update-id table), conversations, once-a-day jobs
    """
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY, channel TEXT NOT NULL, key TEXT NOT NULL, lane TEXT NOT NULL,
        payload BLOB, ts REAL NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
        owner TEXT, lease_until REAL, attempts INTEGER NOT NULL DEFAULT 0,
        UNIQUE(channel, key));
    CREATE INDEX inbox_pending ON inbox(status, id);
    CREATE INDEX inbox_lane ON inbox(lane, status, id);
    INSERT INTO inbox(channel, key, lane, payload, ts, status)
        SELECT 'telegram', CAST(update_id AS TEXT), '', NULL, ts, 'done' FROM updates;
    DROP TABLE updates;
    CREATE TABLE conversations (chat_key TEXT PRIMARY KEY, ts REAL NOT NULL, data TEXT NOT NULL);
    CREATE TABLE jobs (name TEXT NOT NULL, period TEXT NOT NULL, ts REAL NOT NULL, PRIMARY KEY(name, period));
    """,
)
