# Rashut: the bot (Telegram, WhatsApp, or both) as a non-root container. It needs its channel's
# settings: without TELEGRAM_BOT_TOKEN or the WHATSAPP_* settings the container has no terminal for
# the console chat, so `rashut run` exits with code 2 and one line saying what to set.
#
#   docker build -t rashut .
#   docker run -d --name rashut --env-file .env -v rashut-data:/data -v rashut-cache:/cache rashut
#
# Try the console chat in a container instead (an interactive terminal):
#   docker run -it --rm rashut rashut chat
#
# The knowledge base is baked in at /app/knowledge/base (read-only for the bot user). To run on a
# base that curators edit, mount it and point RASHUT_KB at it (the bot reloads it on change, or
# on /reload):
#   docker run ... -v /srv/rashut/knowledge:/kb -e RASHUT_KB=/kb rashut
# The SQLite store (unanswered questions, feedback, statistics) lives in the /data volume (a named
# volume inherits the right owner; a bind-mounted host folder must be writable by uid 10001).
# Webhook mode: set WEBHOOK_URL/WEBHOOK_SECRET and publish WEBHOOK_PORT (-p 8443:8443) behind
# your TLS proxy; WhatsApp's webhook (/whatsapp) is on WHATSAPP_WEBHOOK_PORT (8444). Both listen on
# 0.0.0.0 inside the container. Several replicas share PostgreSQL: RASHUT_DB=postgresql://...
# (docs/deployment.md, compose.yaml).

# ---------------------------------------------------------------- build: wheels only
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# README.md: pyproject.toml names it as the readme, the build needs it
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY handlers ./handlers
RUN pip wheel --wheel-dir /wheels .

# ---------------------------------------------------------------- runtime
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RASHUT_KB=/app/knowledge/base \
    RASHUT_DB=/data/rashut.db \
    RASHUT_INDEX_CACHE=/cache \
    WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8443 \
    WHATSAPP_WEBHOOK_LISTEN=0.0.0.0 \
    WHATSAPP_WEBHOOK_PORT=8444

# tzdata: the curators' daily digest is scheduled in Israel time (Asia/Jerusalem)
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 rashut \
    && useradd --system --uid 10001 --gid rashut --home-dir /app --no-create-home --shell /usr/sbin/nologin rashut

COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels rashut && rm -rf /wheels

# the bundled base, owned by root: the bot reads it, only a mounted base is writable by curators
COPY knowledge/base /app/knowledge/base
RUN mkdir -p /data /cache && chown rashut:rashut /data /cache

WORKDIR /app
VOLUME ["/data", "/cache"]
EXPOSE 8443 8444
USER rashut:rashut
STOPSIGNAL SIGTERM
CMD ["rashut", "run"]
