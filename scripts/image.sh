#!/usr/bin/env bash
# Builds the netmatrix image with podman (this project's machines have no Docker engine and no
# registry: make the base image first with scripts/base-image.sh). The file named by
# NODE_EXTRA_CA_CERTS, when set, is passed as the `extra-ca` build secret, so that npm and apt
# inside the build trust the same CA as this machine. Needs root and podman.
# Usage: sudo bash scripts/image.sh [TAG]     (default netmatrix:test)
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="${1:-netmatrix:test}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/image/containers.conf}"
secret=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -s "$NODE_EXTRA_CA_CERTS" ]; then
  secret=(--secret "id=extra-ca,src=$NODE_EXTRA_CA_CERTS")
fi

started=$SECONDS
podman --runtime /usr/sbin/runc build --pull=never --network host "${secret[@]}" -t "$TAG" .
echo "image: $TAG built in $((SECONDS - started)) s"
