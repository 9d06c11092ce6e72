#!/usr/bin/env bash
# Test-only: makes the Dockerfile's base image, docker.io/library/node:20-bookworm-slim, on a
# machine that reaches no container registry. A Debian bookworm minbase (debootstrap, from the
# Debian mirror this machine's apt uses) plus this machine's Node 20 (/usr/bin/node) and npm,
# laid out as in the official image (/usr/local/bin/node, /usr/local/bin/npm), imported with
# podman. Skipped when the image already exists; `podman rmi` it to make it again.
# Needs root, debootstrap and podman (scripts/install.sh). Usage: sudo bash scripts/base-image.sh
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=docker.io/library/node:20-bookworm-slim
SUITE=bookworm
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/image/containers.conf}"
podman() { command podman --runtime /usr/sbin/runc "$@"; }

if podman image exists "$IMAGE"; then
  echo "base-image: $IMAGE exists"
  exit 0
fi

# The mirror this machine's apt uses for suite $1: a deb822 .sources stanza or a one-line entry.
debian_mirror() {
  local f suite="$1"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; ok = 0; deb = 0; enabled = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
          if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
        }
        if (ok && deb && enabled && uris != "") { print uris; exit }
      }' "$f"
  done
  # One-line format: deb [options] URI SUITE COMPONENTS...
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/\[[^]]*\]//' |
    awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }'
}
MIRROR="$(debian_mirror "$SUITE" | head -n 1 || true)"
if [ -z "$MIRROR" ]; then
  echo "base-image: no Debian $SUITE mirror in /etc/apt/sources.list{,.d}" >&2
  exit 1
fi
SECURITY_MIRROR="$(debian_mirror "$SUITE-security" | head -n 1 || true)"
SECURITY_MIRROR="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

NODE="$(command -v node)"
NODE="$(readlink -f "$NODE")"
NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
if ! "$NODE" -e 'process.exit(process.versions.node.split(".")[0] === "20" ? 0 : 1)'; then
  echo "base-image: $NODE is Node $("$NODE" --version), not Node 20" >&2
  exit 1
fi

work="$(mktemp -d /var/tmp/netmatrix-base-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
started=$SECONDS
echo "base-image: debootstrap --variant=minbase $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}

# apt sources as in Debian's official images (deb822, with updates and security), on this
# machine's mirror so that apt-get works inside a build here.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Node: one binary whose shared libraries a bookworm minbase already has; copy any it lacks.
install -D -m 0755 "$NODE" "$root/usr/local/bin/node"
for lib in $(ldd "$NODE" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
  [ -e "$root$lib" ] || install -D -m 0644 "$(readlink -f "$lib")" "$root$lib"
done
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# A clean environment: this machine's NODE_EXTRA_CA_CERTS names a file the chroot lacks.
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
in_root node --version >/dev/null
NPM_VERSION="$(in_root npm --version)"

# Slim like Debian's official slim images: dpkg leaves out documentation, man pages and
# translations, now and in every later apt-get install.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$root"/usr/share/{groff,info,linda,locale,man}/* "$root"/usr/share/lintian/overrides/*

# Smaller image: no downloaded packages, package lists or logs.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root/debootstrap"

tar --numeric-owner -C "$root" -c . |
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$("$NODE" -p process.versions.node)" \
    --change 'CMD ["node"]' \
    - "$IMAGE" >/dev/null
echo "base-image: $IMAGE made in $((SECONDS - started)) s (Node $("$NODE" --version), npm $NPM_VERSION)"
