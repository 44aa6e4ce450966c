#!/usr/bin/env bash
# Build the pinned Kubernetes control-plane binaries (kube-apiserver,
# kube-scheduler, kube-controller-manager, kubectl) from the Go module next to this
# script (devcluster/k8s/go.mod) into the version-keyed cache:
#   ${DUBBING_CACHE_DIR:-$HOME/.cache/dubbing}/k8s/<version>/bin/
# Needs only Go (>= 1.22) and network access to the Go module proxy.
# Go's own build cache (GOCACHE) is left in place, so a rebuild is quick.
# Usage: build-k8s.sh [--force]
set -euo pipefail

mod_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$mod_dir/go.mod")"
if [[ -z "$version" ]]; then
  echo "build-k8s: cannot read the k8s.io/kubernetes version from $mod_dir/go.mod" >&2
  exit 2
fi
cache_root="${DUBBING_CACHE_DIR:-$HOME/.cache/dubbing}"
bin_dir="$cache_root/k8s/$version/bin"
stamp="$bin_dir/.build-stamp"
commands=(kube-apiserver kube-scheduler kube-controller-manager kubectl)

# Bump when the way the binaries are built (flags, ldflags) changes.
build_revision=2
fingerprint="$( { cat "$mod_dir/go.mod" "$mod_dir/go.sum" "$mod_dir/tools.go"; echo "$build_revision"; } | sha256sum | cut -d' ' -f1)"
if [[ "${1:-}" != "--force" && -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" ]]; then
  echo "build-k8s: $version binaries are up to date in $bin_dir"
  exit 0
fi

command -v go >/dev/null || { echo "build-k8s: Go is not installed (need go >= 1.22 on PATH)" >&2; exit 2; }

minor="$(echo "$version" | cut -d. -f2)"
# The tag's commit, as the module proxy records it (shown by `kubectl version`).
commit="$(cd "$mod_dir" && go mod download -json "k8s.io/kubernetes@$version" \
  | sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]\{40\}\)".*/\1/p' | head -n1)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  if [[ -n "$commit" ]]; then ldflags+=" -X $pkg.gitCommit=$commit"; fi
done

staging="$cache_root/k8s/$version/bin.partial"
rm -rf "$staging"
mkdir -p "$staging"
pkgs=()
for c in "${commands[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done

echo "build-k8s: building ${commands[*]} $version into $bin_dir"
start=$(date +%s)
(
  cd "$mod_dir"
  export CGO_ENABLED=0
  go mod download
  for p in "${pkgs[@]}"; do
    t0=$(date +%s)
    go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$staging/" "$p"
    echo "build-k8s: built $(basename "$p") in $(( $(date +%s) - t0 )) s"
  done
)
mkdir -p "$bin_dir"
for c in "${commands[@]}"; do mv -f "$staging/$c" "$bin_dir/$c"; done
rm -rf "$staging"
echo "$fingerprint" > "$stamp"
echo "build-k8s: done in $(( $(date +%s) - start )) s"
