# One image holds the four services; docker-compose.yml picks the binary with `command`.
# Build stage: Debian bookworm with the -dev packages.
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libpq-dev libmicrohttpd-dev libjansson-dev librabbitmq-dev check \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY lib lib
COPY api api
COPY relay relay
COPY consumer consumer
# the pages and pictures, embedded into the binaries at build time
COPY web web
COPY scripts/embed-assets.sh scripts/
RUN make -j"$(nproc)" build/bin/command-api build/bin/query-api build/bin/relay build/bin/consumer

# Runtime stage: only the shared libraries, psql for migrations, a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libmicrohttpd12 libjansson4 librabbitmq4 postgresql-client curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app cqrs
WORKDIR /app
COPY --from=build /src/build/bin/ /app/bin/
COPY migrations migrations
COPY scripts/env.sh scripts/migrate.sh scripts/
USER cqrs
ENV HTTP_BIND_ADDRESS=0.0.0.0 LOG_LEVEL=info
CMD ["/app/bin/command-api"]
