# PostgreSQL 15 with pgTAP, for the postgres service (write DB and read DB in one server) and the
# `pgtap` test service (pg_prove). Build context: the repository root.
FROM postgres:15
# postgresql-15-pgtap: the extension; libtap-parser-sourcehandler-pgtap-perl: pg_prove.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl \
 && rm -rf /var/lib/apt/lists/*
# Run once by the image's entrypoint on an empty data volume: the application role, the two
# databases it owns and pgTAP in both. Executable, so the entrypoint runs it instead of sourcing.
COPY db/docker-init/ /docker-entrypoint-initdb.d/
RUN chmod 755 /docker-entrypoint-initdb.d/*.sh
# Healthy once the real server (not the entrypoint's socket-only set-up server) accepts TCP
# connections and the read DB, the last thing the init script creates, exists.
HEALTHCHECK --interval=2s --timeout=5s --start-period=30s --retries=30 \
  CMD PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q -h 127.0.0.1 -U "$POSTGRES_USER" \
      -d "${CQRS_READ_DB:-cqrs_read}" -c 'SELECT 1' >/dev/null || exit 1
