#!/usr/bin/env bash
# Build the pinned Helm CLI from source (Go toolchain only, no downloads of prebuilt binaries)
# and print its path. Cached per version: a second run only prints the path.
#
#   tools/build-helm.sh            # -> ${DUBBING_CACHE_DIR:-$HOME/.cache/dubbing}/helm/v3.16.4/bin/helm
#   HELM_VERSION=v3.17.0 tools/build-helm.sh
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.16.4}"
CACHE="${DUBBING_CACHE_DIR:-$HOME/.cache/dubbing}"
BIN_DIR="${CACHE}/helm/${HELM_VERSION}/bin"
if [ ! -x "${BIN_DIR}/helm" ]; then
  mkdir -p "${BIN_DIR}"
  echo "building helm ${HELM_VERSION} into ${BIN_DIR} (a few minutes on a small machine)" >&2
  # Run outside the repository so its go.mod files play no part; the scratch folder goes with the build.
  scratch="$(mktemp -d)"
  trap 'rm -rf "${scratch}"' EXIT
  (cd "${scratch}" && GOBIN="${BIN_DIR}" GOFLAGS="${GOFLAGS:-} -trimpath" CGO_ENABLED=0 \
     go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} \
       -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=31 \
       -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=31" \
     "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}") >&2
fi
echo "${BIN_DIR}/helm"
