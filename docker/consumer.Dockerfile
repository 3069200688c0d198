# The consumer service. Build context: the repository root (docker-compose.yml sets it).
#
# Build stage: Debian bookworm with the -dev packages. The stage is the same in the four service
# Dockerfiles (command-api, query-api, relay, consumer), instruction for instruction, so that the
# builder's layer cache compiles the code once for all four images.
FROM debian:bookworm AS build
# the packages of scripts/packages-build.txt, the list scripts/deps.sh installs for `make test`
COPY scripts/packages-build.txt /tmp/packages-build.txt
RUN apt-get update \
 && grep -Ev '^[[:space:]]*(#|$)' /tmp/packages-build.txt \
    | DEBIAN_FRONTEND=noninteractive xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
# the version the binaries report (--version, build_info); the build context has no .git
ARG VERSION=unknown
WORKDIR /src
# What the Makefile needs for the service binaries: the sources, and web/ with the script that
# embeds its files into the library (lib/http/assets.h).
COPY Makefile ./
COPY lib lib
COPY api api
COPY relay relay
COPY consumer consumer
COPY web web
COPY scripts/embed-assets.sh scripts/
RUN make -j"$(nproc)" VERSION="$VERSION" build/bin/command-api build/bin/query-api build/bin/relay build/bin/consumer

# Runtime stage: only the shared libraries the binary links, as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libmicrohttpd12 libjansson4 librabbitmq4 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cqrs \
 && useradd --system --uid 10001 --gid cqrs --home-dir /nonexistent --shell /usr/sbin/nologin cqrs
COPY --from=build /src/build/bin/consumer /usr/local/bin/consumer
# GET /metrics and GET /health on CONSUMER_METRICS_PORT (0: no listener). Other containers
# (Prometheus, the query API's dashboard) reach it only if it binds every interface.
ENV HTTP_BIND_ADDRESS=0.0.0.0
USER 10001:10001
EXPOSE 9102
# /health is the consumer's own verdict (200, or 503 with the reason). With the listener off
# (CONSUMER_METRICS_PORT=0) the check falls back to PID 1, the consumer itself, being alive.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD port="${CONSUMER_METRICS_PORT:-9102}"; \
      if [ "$port" = 0 ]; then kill -0 1; \
      else curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/health"; fi || exit 1
CMD ["/usr/local/bin/consumer"]
