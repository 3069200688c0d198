# The one-shot migrate service: scripts/migrate.sh applies migrations/write to DATABASE_URL and
# migrations/read to READ_DATABASE_URL, then exits (0 = all applied or already applied).
# Build context: the repository root. Nothing is compiled, so there is no build stage: the image
# is bookworm-slim with psql (postgresql-client, 15 on bookworm) and bash.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cqrs \
 && useradd --system --uid 10001 --gid cqrs --home-dir /nonexistent --shell /usr/sbin/nologin cqrs
WORKDIR /app
# scripts/env.sh (sourced by migrate.sh) takes REPO_ROOT=/app and skips the .env files it does
# not find: every setting comes from the container's environment. scripts/lib.sh: its die.
COPY migrations migrations
COPY scripts/env.sh scripts/lib.sh scripts/migrate.sh scripts/
USER 10001:10001
# A job, not a server: compose waits for it to exit (service_completed_successfully).
HEALTHCHECK NONE
CMD ["/app/scripts/migrate.sh"]
