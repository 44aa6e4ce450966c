"""Run one gate script (``scripts/e2e_<name>.py``) in-process and turn its summary into a test result."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run_gate(gate: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Call the gate's ``main``; print its JSON summary; a reported skip becomes a pytest skip with the reason."""
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
