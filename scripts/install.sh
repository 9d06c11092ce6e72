#!/usr/bin/env bash
# Installs what netmatrix needs on a Debian/Ubuntu machine: the Debian packages the agent and
# the lab use (iperf3 3.12+, sockperf for latency tests, iproute2, iptables, ping, procps) and
# the npm dependencies.
# Idempotent: packages already there are not reinstalled. Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

# nftables, clang, libbpf-dev and bpftool: the lab's nftables and eBPF service-proxy profiles.
# podman, runc and debootstrap: the image test builds and runs the Dockerfile without Docker or a registry.
# chromium and prometheus (with promtool): the live page's browser test and the dashboards' PromQL checks.
PACKAGES=(iperf3 sockperf iproute2 iptables iputils-ping procps nftables clang libbpf-dev bpftool podman runc debootstrap chromium prometheus)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "netmatrix: need root to install Debian packages: ${missing[*]} (run: sudo $0)" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("netmatrix: needs Node >= 20.19, found "+process.version); process.exit(1) }'
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
echo "netmatrix: dependencies installed"
