# Mantou as a container image. Build: `docker build -t mantou .` (or with buildah: test/container/). Run:
#   docker run -p 8080:8080 -p 9901:9901 mantou                      the bundled config (config/container.yaml)
#   docker run -v $PWD/mantou.yaml:/etc/mantou/mantou.yaml:ro ...     your own
#   docker kill -s HUP <container>                                    reload;  docker stop: graceful drain
# BASE must be a glibc Debian image with Node 22 (>= 22.18): uws-pack ships glibc binaries only, so no Alpine.
ARG BASE=node:22-bookworm-slim

FROM ${BASE} AS dependencies
WORKDIR /opt/mantou
# A C compiler for the native addon (native/*.c: the HTTP engine, the TCP relay, offload thread scheduling), which
# npm ci's install script builds against the base image's Node headers (/usr/local/include/node); only this stage
# has it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY native ./native
# Production dependencies only: the image's Node runs the TypeScript sources (no build step), so the pinned `node`
# devDependency, the test and lint tools are left out.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${BASE}
# tini as PID 1 forwards signals and reaps zombies (neither node nor npm should be PID 1: npm swallows SIGTERM).
RUN if ! command -v tini >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; \
    fi \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mantou
WORKDIR /opt/mantou
COPY --from=dependencies /opt/mantou/node_modules ./node_modules
COPY --from=dependencies /opt/mantou/native/build ./native/build
COPY package.json ./
COPY bin ./bin
COPY core ./core
COPY config ./config
COPY filters ./filters
COPY config/container.yaml /etc/mantou/mantou.yaml
# `mantou` on PATH (for `docker exec … mantou validate -c …` and the health check).
RUN ln -s /opt/mantou/bin/mantou.js /usr/local/bin/mantou
ENV NODE_ENV=production
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
# edge listener, admin port (see config/container.yaml).
EXPOSE 8080 9901
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["mantou", "healthcheck", "-c", "/etc/mantou/mantou.yaml"]
ENTRYPOINT ["tini", "--", "node", "--no-memory-reducer", "--single-threaded-gc", "/opt/mantou/bin/mantou.js"]
CMD ["run", "-c", "/etc/mantou/mantou.yaml"]
