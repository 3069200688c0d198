# The query-api service. Build context: the repository root (docker-compose.yml sets it).
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
COPY --from=build /src/build/bin/query-api /usr/local/bin/query-api
# Inside a container the API must listen on every interface; docker-compose.yml sets it too.
ENV HTTP_BIND_ADDRESS=0.0.0.0
USER 10001:10001
EXPOSE 8081
# /health answers 200 only while the service reaches its database.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS --max-time 2 -o /dev/null \
      "http://127.0.0.1:${QUERY_SERVICE_PORT:-8081}/health" || exit 1
CMD ["/usr/local/bin/query-api"]
