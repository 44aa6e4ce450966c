# Two commands matter (see README):  `make demo`  and  `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
INPUT ?=
TO ?= pt-BR
OUT ?= out

.PHONY: help up down setup setup-demo demo dub test test-unit check crd check-crd cluster-build cluster-up cluster-down cluster-status \
        bench bench-pipeline bench-long-input bench-operator bench-hollow images helm-lint lock check-locks clean

help:
	@echo "make demo        dub a generated English sample clip into Brazilian Portuguese, on this machine"
	@echo "make dub INPUT=video.mp4 TO=pt-BR   dub your own file"
	@echo "make check       lint (ruff check), formatting (ruff format --check) and types (mypy)"
	@echo "make test        install everything needed, start the local cluster/MinIO/Redis, run the suite"
	@echo "make up / down   the whole product here: cluster, MinIO, Redis, operator, web UI (prints address and password)"
	@echo "make cluster-up / cluster-down      the local Kubernetes (etcd, apiserver, scheduler, controller-manager, dev kubelets)"
	@echo "make bench       benchmarks (JSON + table under bench-results/); make bench-long-input: stage memory, 5 vs 60 min input"
	@echo "make bench-hollow  the operator alone: 1,000 and 5,000 jobs on hollow nodes (no stage processes)"

setup:
	bash tools/bootstrap.sh

setup-demo:
	DUBBING_PROFILE=demo bash tools/bootstrap.sh

demo: setup-demo
	$(PY) -m dubbing.demo --to $(TO) --out $(OUT)

dub: setup-demo
	@test -n "$(INPUT)" || { echo "usage: make dub INPUT=path/to/video.mp4 [TO=pt-BR] [OUT=out]"; exit 2; }
	.venv/bin/dubbing run "$(INPUT)" --to $(TO) --out $(OUT)

test: setup
	$(PY) -m pytest -ra -p no:cacheprovider $(PYTEST_ARGS)

# Static checks: lint, formatting and types (configured in pyproject.toml). Run by .ci/run before
# `make test`, and by the CI workflow's static job. Needs the test extra (ruff, mypy, stubs) in $(PY)'s venv.
check:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test-unit:
	$(PY) -m pytest -ra -p no:cacheprovider tests/unit $(PYTEST_ARGS)

crd:
	$(PY) -m dubbing.api.crd --write

check-crd:
	$(PY) -m dubbing.api.crd --check

cluster-build: setup
	$(PY) -m devcluster build

cluster-up: setup
	$(PY) -m devcluster up

cluster-down:
	$(PY) -m devcluster down

up: setup
	$(PY) -m devcluster product-up

down:
	$(PY) -m devcluster product-down

cluster-status:
	$(PY) -m devcluster status

bench-pipeline: setup
	$(PY) -m bench.pipeline --out bench-results

bench-long-input: setup
	$(PY) -m bench.long_input --minutes 5 --minutes 60 --out bench-results

bench-operator: cluster-up
	$(PY) -m bench.operator_loop --jobs 100 --jobs 300 --jobs 1000 --out bench-results

bench-hollow: cluster-up
	$(PY) -m bench.operator_hollow --jobs 1000 --jobs 5000 --out bench-results

bench: setup cluster-up
	$(PY) -m bench --out bench-results

images:
	bash tools/build-images.sh

helm-lint:
	$$(bash tools/build-helm.sh) lint charts/dubbing --strict

# The hashed locks under requirements/ (requirements/README.md): regenerate (network), check (none).
lock:
	bash tools/lock.sh $(LOCK_ARGS)

check-locks:
	python3 tools/check_locks.py

clean:
	rm -rf out bench-results test-artifacts .pytest_cache
