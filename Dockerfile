# syntax=docker/dockerfile:1
# netmatrix: one image for the aggregator (the default command) and the agent (command `agent`).
#
#   docker build --secret id=extra-ca,src=ca.pem -t netmatrix .     # the secret is optional
#   docker run netmatrix aggregator --token T                       # or: ... netmatrix agent ...
#   docker run netmatrix --help                                     # every command: it is `netmatrix`
#
# The optional build secret `extra-ca` is a PEM file of extra CA certificates, for builds behind
# a TLS-intercepting proxy: npm and apt trust it during the build, and no layer keeps it.

ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim

# Stage 1: compile the TypeScript (dist/, tsconfig.build.json) with the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=extra-ca,required=false \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \
    npm ci --no-audit --no-fund --cache /tmp/npm-cache && rm -rf /tmp/npm-cache
COPY tsconfig.json tsconfig.build.json ./
COPY shared shared
COPY agent agent
COPY aggregator aggregator
COPY lab lab
COPY sys sys
COPY cli cli
COPY client client
RUN npm run build

# Stage 2: the runtime, with iperf3, sockperf and tini from Debian and the production dependencies only.
FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="netmatrix" \
      org.opencontainers.image.description="Continuous iperf3 network matrix for Kubernetes: node-to-node, pod-to-pod and pod-to-service throughput, round-trip latency and node CPU for every pair of nodes. Command: aggregator (default) or agent." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:20-bookworm-slim"

# The slim base has no ca-certificates, so apt cannot verify an https mirror by itself: with the
# secret, apt trusts it (plus any system bundle). apt downloads as the _apt user, which cannot
# read the root-only secret mount, hence the readable copy, removed in the same step.
RUN --mount=type=secret,id=extra-ca,required=false \
    set -eu; \
    ca=""; \
    if [ -s /run/secrets/extra-ca ]; then \
      cat /etc/ssl/certs/ca-certificates.crt /run/secrets/extra-ca > /tmp/apt-ca.pem 2>/dev/null \
        || cp /run/secrets/extra-ca /tmp/apt-ca.pem; \
      chmod 0644 /tmp/apt-ca.pem; \
      ca="-o Acquire::https::CaInfo=/tmp/apt-ca.pem"; \
    fi; \
    apt-get $ca update; \
    DEBIAN_FRONTEND=noninteractive apt-get $ca install -y --no-install-recommends iperf3 sockperf tini; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /tmp/apt-ca.pem; \
    groupadd --gid 10001 netmatrix; \
    useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin netmatrix

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=extra-ca,required=false \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \
    npm ci --omit=dev --no-audit --no-fund --cache /tmp/npm-cache && rm -rf /tmp/npm-cache
COPY bin bin
# dist/ holds the live page's files and the BPF source too: `npm run build` copies them.
COPY --from=build /src/dist dist
# The same `netmatrix` command as an npm install gives, on PATH: `kubectl exec ... -- netmatrix run ...`.
RUN ln -s /app/bin/netmatrix.js /usr/local/bin/netmatrix

# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# 8080: the aggregator's HTTP API, /metrics and agent WebSocket. 5201: the agent's iperf3 server (and its sockperf server for latency tests, never at once).
EXPOSE 8080 5201
# tini is PID 1: it forwards SIGTERM to node (which stops cleanly) and reaps iperf3 and sockperf children.
ENTRYPOINT ["/usr/bin/tini", "--", "netmatrix"]
CMD ["aggregator"]
