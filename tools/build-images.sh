#!/usr/bin/env bash
# Build (and optionally push) the four images with tags from the one version source.
#
#   tools/build-images.sh                      # build <registry>/dubbing-{operator,webui,stage-cpu,stage-gpu}:<version>
#   REGISTRY=ghcr.io/me tools/build-images.sh --push
#   IMAGES="operator webui stage-cpu" tools/build-images.sh   # a subset (kind e2e skips the large GPU image)
#
# Needs a Docker engine (docker buildx). Build context: the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${VERSION:-$(tools/version.sh)}"
REGISTRY="${REGISTRY:-ghcr.io/dubbing-dev}"
IMAGES="${IMAGES:-operator webui stage-cpu stage-gpu}"
PUSH=""
[ "${1:-}" = "--push" ] && PUSH="--push"
for name in $IMAGES; do
  ref="${REGISTRY}/dubbing-${name}:${VERSION}"
  echo "==> ${ref}"
  docker build ${PUSH:+--push} -f "images/${name}/Dockerfile" -t "${ref}" \
    --label "org.opencontainers.image.version=${VERSION}" \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" .
done
