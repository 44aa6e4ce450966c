"""Repository tooling: set-up (bootstrap.sh), release checks and builds, chart tooling.

    tools/bootstrap.sh                 everything `make test` needs, into .venv (editable)
    tools/version.sh                   the one version (the core's pyproject.toml)
    tools/build-images.sh              the four images, tagged with that version
    tools/build-helm.sh                the pinned Helm, built from source
    tools/e2e-kind.sh                  the kind end-to-end steps CI runs
    tools/check_dockerfiles.py         static Dockerfile rules (+ hadolint)
    tools/check_release_hygiene.py     what a release must not contain, and what must agree
    tools/gen_values_schema.py         charts/dubbing/values.schema.json

The Python ones run as scripts (``python tools/check_dockerfiles.py``); tests import them as
``tools.<name>``. They import nothing from tests/, bench/ or the programs.
"""
