# Rashut: the Telegram bot (or, without TELEGRAM_BOT_TOKEN, the console chat) as a non-root container.
#
#   docker build -t rashut .
#   docker run -d --name rashut --env-file .env -v rashut-data:/data rashut
#
# The knowledge base is baked in at /app/knowledge/base (read-only for the bot user). To run on a
# base that curators edit, mount it and point RASHUT_KB at it (the bot reloads it on change, or
# on /reload):
#   docker run ... -v /srv/rashut/knowledge:/kb -e RASHUT_KB=/kb rashut
# The SQLite store (unanswered questions, feedback, statistics) lives in the /data volume (a named
# volume inherits the right owner; a bind-mounted host folder must be writable by uid 10001).
# Webhook mode: set WEBHOOK_URL/WEBHOOK_SECRET and publish WEBHOOK_PORT (-p 8443:8443) behind
# your TLS proxy; the server listens on 0.0.0.0 inside the container.

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
    WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8443

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
RUN mkdir -p /data && chown rashut:rashut /data

WORKDIR /app
VOLUME ["/data"]
EXPOSE 8443
USER rashut:rashut
STOPSIGNAL SIGTERM
CMD ["rashut", "run"]
