#!/usr/bin/env bash
# Regenerate the hashed lock files requirements/<profile>.txt from requirements/<profile>.in, which
# name the local projects (and extras) each install profile takes; the version ranges stay in the
# pyproject.toml files. Locks are for Linux x86_64, CPython 3.11, from PyPI, every file hashed; the
# local projects themselves are left out (installed afterwards with --no-deps). See requirements/README.md.
#
#   tools/lock.sh                        # re-lock after a pyproject change, keeping current pins where allowed
#   tools/lock.sh --upgrade              # every package to its newest allowed version
#   tools/lock.sh --upgrade-package numpy
#
# Needs network access to the package index. uv comes from $UV, else PATH, else a throwaway venv.
# python tools/check_locks.py (and tests/shipping/test_locks.py) checks the result without network.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
UV_VERSION=0.13.9  # the uv that wrote the committed locks (same output format)

uv="${UV:-$(command -v uv || true)}"
if [[ -z "$uv" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install -q "uv==$UV_VERSION"
  uv="$tmp/venv/bin/uv"
fi

# ci first (the superset, build.in included), then every other profile within ci's pins.
profiles=(ci build ci-nogpu demo operator webui stage-cpu stage-gpu)
common=(
  --quiet --generate-hashes
  --python-platform x86_64-manylinux_2_28 --python-version 3.11
  --index-url "${DUBBING_LOCK_INDEX_URL:-https://pypi.org/simple}"
  --no-emit-package dubbing --no-emit-package dubbing-operator
  --no-emit-package dubbing-webui --no-emit-package dubbing-devcluster
  --custom-compile-command "tools/lock.sh"
)
for profile in "${profiles[@]}"; do
  constraints=()
  [[ "$profile" == ci ]] || constraints=(-c requirements/ci.txt)
  echo "[lock] requirements/$profile.txt" >&2
  "$uv" pip compile "${common[@]}" ${constraints[@]+"${constraints[@]}"} "$@" \
    -o "requirements/$profile.txt" "requirements/$profile.in"
done
python3 tools/check_locks.py
