"""Fixtures of the reliability gates (tests/e2e/test_*.py).

Each gate is an ordinary test, run with the suite or by hand:

    python -m pytest tests/e2e/test_node_loss.py -s          # the local development cluster
    DUBBING_KUBECONFIG=~/.kube/kind python -m pytest tests/e2e -m "not gpu_backend" -s

* ``gate``: the gate's record (:class:`tests.e2e.common.Gate`). When the test ends, its summary
  is printed as one JSON line, ``{"gate", "result": pass|fail|skip, "seconds", ...}``, and on a
  failure the tails of the logs it collected are added to the report.
* ``cluster``: the suite's cluster (``kube``) with the development kubelets running
  (``dev_nodes``) and the DubbingJob CRD served (``dubbingjob_crd``).
* MinIO: the suite's ``minio_server`` (or ``webui_s3``, the same server as the web UI takes it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .common import Gate


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Keep each phase's report on the item (for the ``gate`` fixture); on a failure, show the gate's logs."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_gate_report_{report.when}", report)
    gate = getattr(item, "funcargs", {}).get("gate")
    if isinstance(gate, Gate) and report.failed and report.when == "call":
        tail = gate.tail_logs()
        if tail:
            report.sections.append(("gate logs", tail))


@pytest.fixture
def gate(request: pytest.FixtureRequest) -> Iterator[Gate]:
    name = "e2e_" + request.node.originalname.removeprefix("test_")
    record = Gate(name)
    yield record
    report = getattr(request.node, "_gate_report_call", None) or getattr(request.node, "_gate_report_setup", None)
    result = "fail"
    if report is not None and report.passed:
        result = "pass"
    elif report is not None and report.skipped:
        result = "skip"
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        record.summary["skipped"] = reason.removeprefix("Skipped: ")
    elif report is not None and report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        record.summary["error"] = (crash.message if crash else str(report.longrepr).strip().splitlines()[-1])[:2000]
    out = {"gate": name, "result": result, "seconds": round(time.monotonic() - record.started, 1), **record.summary}
    capman = request.config.pluginmanager.getplugin("capturemanager")
    line = f"\n{name}: {json.dumps(out, default=str)}"
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print(line)
    else:
        print(line)


@pytest.fixture
def cluster(kube: Any, dev_nodes: list[str], dubbingjob_crd: str) -> Any:
    """The suite's cluster, its development kubelets running and the CRD served."""
    return kube
