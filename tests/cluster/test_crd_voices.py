"""spec.voices against the real API server: a valid mapping applies; a bad one is refused naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .test_crd import _apply, _valid

pytestmark = pytest.mark.cluster

INVALID = [
    (
        "two-sources",
        {"S0": {"voice": "pf_dora", "library": "v-0123456789abcdef"}},
        "exactly one of voice, library or clone",
    ),
    ("no-source", {"S0": {}}, "exactly one of voice, library or clone"),
    ("clone-false", {"S0": {"clone": False}}, "exactly one of voice, library or clone"),
    ("bad-label", {"S 0": {"voice": "pf_dora"}}, "speaker labels are 1-64"),
    ("bad-voice", {"S0": {"voice": "a b"}}, "spec.voices.S0.voice"),
    ("bad-library-id", {"S0": {"library": "../x"}}, "spec.voices.S0.library"),
    ("too-many", {f"S{i}": {"voice": "pf_dora"} for i in range(33)}, "must have at most 32 items"),
]


@pytest.mark.parametrize(("case", "voices", "expected"), INVALID, ids=[case for case, _, _ in INVALID])
def test_bad_voice_mappings_are_refused(
    kube: Any, namespace: str, dubbingjob_crd: str, case: str, voices: dict, expected: str
) -> None:
    doc = copy.deepcopy(_valid(f"voices-{case}"))
    doc["spec"]["voices"] = voices
    result = _apply(kube, namespace, doc)
    assert result.returncode != 0, f"{case} was accepted"
    assert expected in result.stderr, f"{case}: {expected!r} not in {result.stderr!r}"
    assert kube.kubectl("get", "dj", f"voices-{case}", "-n", namespace, check=False).returncode != 0


def test_a_voice_mapping_applies(kube: Any, namespace: str, dubbingjob_crd: str) -> None:
    doc = _valid("voices-ok")
    doc["spec"]["voices"] = {"S0": {"voice": "pm_alex"}, "S1": {"library": "v-0123456789abcdef"}, "S2": {"clone": True}}
    result = _apply(kube, namespace, doc)
    assert result.returncode == 0, result.stderr
