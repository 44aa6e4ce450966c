#!/bin/sh
# The one version source: [project].version in pyproject.toml. Chart version/appVersion and image
# tags must equal it (tools/check_release_hygiene.py checks).
cd "$(dirname "$0")/.." && sed -n 's/^version *= *"\([^"]*\)".*/\1/p' pyproject.toml | head -n1
