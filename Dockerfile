# ImmersiVerse world session server.
#   docker build -t immersiverse-server .
#   docker run -p 8000:8000 -e SECRET_KEY=$(openssl rand -hex 32) immersiverse-server
# Without DATABASE_URL the embedded SQLite store lives in the /app/data volume; set
# DATABASE_URL=postgresql+asyncpg://user:pass@host:5432/db for PostgreSQL (docker-compose.yml).

# -- build: install the project and its dependencies into /install -------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# Every dependency (uvloop, asyncpg, numpy, pillow, msgpack) ships manylinux wheels: no compiler.
# Installed from the lock (exact versions, hashes): the runtime set only.
RUN pip install --require-hashes -r requirements/tools.txt \
 && pip install --prefix=/install --require-hashes -r requirements/runtime.txt \
 && pip install --prefix=/install --no-deps --no-build-isolation .

# -- run ------------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IMMERSIVERSE_ENVIRONMENT=production \
    IMMERSIVERSE_PORT=8000
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 immersiverse \
 && useradd --system --uid 10001 --gid immersiverse --home-dir /app --shell /usr/sbin/nologin immersiverse \
 && mkdir -p /app/data \
 && chown -R immersiverse:immersiverse /app
WORKDIR /app
# The documented defaults (every key commented); the environment overrides any of them.
COPY --chown=immersiverse:immersiverse config.toml /app/config.toml
USER immersiverse
VOLUME ["/app/data"]
EXPOSE 8000
# SIGTERM drains: sessions are told to go, telemetry is flushed (drain_timeout_s, 10 s by default).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('IMMERSIVERSE_PORT', '8000'), timeout=2)" || exit 1
CMD ["immersiverse", "serve", "--host", "0.0.0.0"]
