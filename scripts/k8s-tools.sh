#!/usr/bin/env bash
# Builds the Kubernetes test binaries (kube-apiserver, etcd, helm) from upstream source through the
# Go module proxy, once per version: each lands in ~/.cache/netmatrix/k8s-tools/<name>-<version>/.
# A cold machine pays a few minutes per binary; a warm one pays nothing. Prints where each binary is.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
tools="$repo/test/k8s/tools"
# shellcheck source=../test/k8s/tools/versions.env
source "$tools/versions.env"
cache="${NETMATRIX_CACHE:-$HOME/.cache/netmatrix}/k8s-tools"

export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "k8s-tools: Go is needed to build kube-apiserver, etcd and helm (expected at /usr/local/go/bin/go)" >&2
  exit 1
fi

build() { # name version module-dir package [ldflags]
  local name="$1" version="$2" dir="$3" pkg="$4" ldflags="${5:-}"
  local out="$cache/$name-$version/$name"
  if [[ -x "$out" ]]; then
    echo "$out"
    return
  fi
  echo "k8s-tools: building $name $version (first time on this machine; cached afterwards)" >&2
  local started=$SECONDS
  mkdir -p "$(dirname "$out")"
  (cd "$tools/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags="-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  echo "k8s-tools: built $name in $((SECONDS - started)) s" >&2
  echo "$out"
}

build etcd "$ETCD_VERSION" etcd .
# helm's Makefile stamps its version and the Kubernetes version it assumes without a cluster
# (helm template, helm lint: the client-go minor it is built with).
k8s_minor="$(cd "$tools/helm" && go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)"
build helm "$HELM_VERSION" helm helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
# The apiserver reports the version it was stamped with (helm's kubeVersion checks read it).
minor="${KUBE_APISERVER_VERSION#v1.}"
minor="${minor%%.*}"
v=k8s.io/component-base/version
build kube-apiserver "$KUBE_APISERVER_VERSION" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver \
  "-X $v.gitVersion=$KUBE_APISERVER_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
