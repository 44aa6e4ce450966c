"""The web-side reliability gates (issue 7), run as part of the suite.

Each gate is a script (``scripts/e2e_<name>.py``) that prints one JSON summary and
exits 0 (pass, or skip with a stated reason) or 1 (fail).  Here each runs in-process
through its ``main``; a skip reported by the gate becomes a pytest skip with that
reason, so it shows in the output.  The cluster is the one the suite uses
(``DUBBING_KUBECONFIG``, else the local development cluster); MinIO is
``DUBBING_S3_ENDPOINT``'s or one the gate starts; Redis is a ``redis-server`` the gate
starts and stops.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

GATES = ["e2e_redis_flap", "e2e_upload_resume", "e2e_two_users", "e2e_bad_inputs_web"]


@pytest.mark.parametrize("gate", GATES)
def test_gate(gate: str, capsys: pytest.CaptureFixture[str]) -> None:
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    module = importlib.import_module(gate)
    argv = ["--kubeconfig", os.environ["DUBBING_KUBECONFIG"]] if os.environ.get("DUBBING_KUBECONFIG") else []
    code = module.main(argv)
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    with capsys.disabled():
        print(f"\n{gate}: {json.dumps(summary)}")
    if summary["result"] == "skip":
        pytest.skip(f"{gate}: {summary['skipped']}")
    assert code == 0 and summary["result"] == "pass", summary
