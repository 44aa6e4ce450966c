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

import pytest

from .runner import run_gate

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

GATES = ["e2e_redis_flap", "e2e_upload_resume", "e2e_two_users", "e2e_bad_inputs_web"]


@pytest.mark.parametrize("gate", GATES)
def test_gate(gate: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_gate(gate, capsys)
