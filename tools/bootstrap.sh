#!/usr/bin/env bash
# Install everything a bare machine needs to run the dubbing pipeline and its test suite:
#   Debian packages, the Python virtual environment (.venv) with the core (all extras) and every
#   program of the repository installed editable (operator/, webui/, devcluster/: each a project
#   of its own that depends on the core), and the Go-built binaries (Kubernetes control plane,
#   MinIO, Helm), each cached by version.
# Idempotent: a second run only checks stamps.  Environment:
#   DUBBING_CACHE_DIR    where built binaries live (default ~/.cache/dubbing)
#   DUBBING_SKIP_GPU=1   do not install the heavy torch extra (light CPU path only)
#   DUBBING_SKIP_BUILD=1 do not build the Go binaries (pipeline-only use)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
cache="${DUBBING_CACHE_DIR:-$HOME/.cache/dubbing}"
mkdir -p "$cache"
log() { printf '[bootstrap] %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------------------------
apt_packages=(ffmpeg espeak-ng redis-server chromium sox openssl ca-certificates)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python -------------------------------------------------------------------------------------
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv with $($python --version)"
  $python -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
extras="cpu,test"
[[ "${DUBBING_SKIP_GPU:-0}" == "1" ]] || extras+=",gpu"
programs=(operator webui devcluster)
stamp=".venv/.dubbing-install-stamp"
want="$(cat pyproject.toml "${programs[@]/%//pyproject.toml}" | sha256sum | cut -d' ' -f1) $extras"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  log "installing the core with extras [$extras] and ${programs[*]} into .venv (the gpu extra is large the first time)"
  editable=()
  for program in "${programs[@]}"; do editable+=(-e "./$program"); done
  .venv/bin/pip install -q -e ".[$extras]" "${editable[@]}"
  echo "$want" > "$stamp"
fi

# --- Go-built binaries (cached by version) -------------------------------------------------------
if [[ "${DUBBING_SKIP_BUILD:-0}" != "1" ]]; then
  command -v go >/dev/null || { echo "bootstrap: Go is required to build Kubernetes, MinIO and Helm" >&2; exit 2; }
  bash devcluster/k8s/build-k8s.sh
  .venv/bin/python -m devcluster.minio build
  bash tools/build-helm.sh >/dev/null
fi
log "ready"
