"""The DubbingJob CRD against the real API server: valid manifests apply, invalid ones are refused
with a message that names the offending field, and `kubectl get dj` shows the printer columns."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _valid(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((EXAMPLES / "dubbingjob.yaml").read_text())
    doc["metadata"]["name"] = name
    return doc


def _apply(kube: Any, namespace: str, doc: dict[str, Any]) -> Any:
    return kube.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(doc), check=False)


def test_valid_examples_apply_and_get_dj_shows_printer_columns(kube: Any, namespace: str, dubbingjob_crd: str) -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        result = kube.kubectl("apply", "-n", namespace, "-f", str(path), check=False)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
    table = kube.kubectl("get", "dj", "-n", namespace).stdout
    header = table.splitlines()[0].split()
    assert header == ["NAME", "PHASE", "STAGE", "PROGRESS", "AGE"], table
    assert "demo-en-ptbr" in table and "interview-multi" in table
    wide = kube.kubectl("get", "dubbingjobs", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    assert "QUEUE" in wide and "TARGETS" in wide
    # The category lists it too.
    assert "demo-en-ptbr" in kube.kubectl("get", "dubbing", "-n", namespace).stdout


def test_defaults_are_applied_by_the_api_server(kube: Any, namespace: str, dubbingjob_crd: str) -> None:
    result = _apply(kube, namespace, _valid("defaults"))
    assert result.returncode == 0, result.stderr
    stored = yaml.safe_load(kube.kubectl("get", "dj", "defaults", "-n", namespace, "-o", "yaml").stdout)
    assert stored["spec"]["sourceLanguage"] == "en"
    assert stored["spec"]["priority"] == 50
    assert stored["spec"]["cancel"] is False


def _without_input(doc: dict[str, Any]) -> None:
    del doc["spec"]["input"]


def _set(path: str, value: Any):
    def change(doc: dict[str, Any]) -> None:
        node = doc
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    return change


def _all(*changes: Any):
    def change(doc: dict[str, Any]) -> None:
        for one in changes:
            one(doc)

    return change


INVALID = [
    ("missing-input", _without_input, ["spec.input", "Required value"]),
    ("empty-input", _set("spec.input", {}), ["spec.input", "set either url, or both bucket and key"]),
    ("bad-language", _set("spec.targetLanguages", ["Portuguese"]), ["spec.targetLanguages[0]", "should match"]),
    ("bad-source-language", _set("spec.sourceLanguage", "english"), ["spec.sourceLanguage", "should match"]),
    ("no-target", _set("spec.targetLanguages", []), ["spec.targetLanguages", "should have at least 1 items"]),
    ("unknown-stage", _set("spec.stages.karaoke", {"backend": "auto"}), ['unknown field "spec.stages.karaoke"']),
    ("unknown-backend", _set("spec.stages.tts.backend", "festival"), ["spec.stages.tts.backend", "Unsupported value"]),
    ("negative-gpus", _set("spec.stages.asr.gpus", -1), ["spec.stages.asr.gpus", "greater than or equal to 0"]),
    ("unknown-spec-field", _set("spec.colour", "blue"), ['unknown field "spec.colour"']),
    ("unknown-top-level-field", _set("specification", {"a": 1}), ['unknown field "specification"']),
    ("bad-topic", _set("spec.notify", {"topic": "has spaces"}), ["spec.notify.topic", "should match"]),
    (
        "stretch-too-far",
        _set("spec.stages.mix", {"maxStretch": 3}),
        ["spec.stages.mix.maxStretch", "must be between 1.0 and 1.5"],
    ),
    (
        "rate-too-fast",
        _set("spec.stages.tts", {"maxRate": 1.6}),
        ["spec.stages.tts.maxRate", "must be between 1.0 and 1.5"],
    ),
    (
        "slowdown-too-far",
        _set("spec.stages.mix", {"fit": "slowVideo", "maxSlowdown": 2.5}),
        ["spec.stages.mix.maxSlowdown", "must be between 1.0 and 2.0"],
    ),
    ("unknown-fit", _set("spec.stages.mix", {"fit": "squeeze"}), ["spec.stages.mix.fit", "Unsupported value"]),
    (
        "slow-video-two-languages",
        _all(_set("spec.targetLanguages", ["pt-BR", "es"]), _set("spec.stages.mix", {"fit": "slowVideo"})),
        ["spec.stages.mix.fit", "slowVideo needs a single target language"],
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), INVALID, ids=[case for case, _, _ in INVALID])
def test_invalid_manifest_is_refused_naming_the_field(
    kube: Any, namespace: str, dubbingjob_crd: str, case: str, change: Any, expected: list[str]
) -> None:
    doc = copy.deepcopy(_valid(f"bad-{case}"))
    change(doc)
    result = _apply(kube, namespace, doc)
    assert result.returncode != 0, f"{case} was accepted"
    for fragment in expected:
        assert fragment in result.stderr, f"{case}: {fragment!r} not in {result.stderr!r}"
    missing = kube.kubectl("get", "dj", f"bad-{case}", "-n", namespace, check=False)
    assert missing.returncode != 0, f"{case}: the object exists after a refused apply"


def test_slow_video_with_one_language_applies(kube: Any, namespace: str, dubbingjob_crd: str) -> None:
    doc = _valid("slow-video")
    doc["spec"]["targetLanguages"] = ["pt-BR"]
    doc["spec"].setdefault("stages", {})["mix"] = {"fit": "slowVideo", "maxSlowdown": 1.8}
    result = _apply(kube, namespace, doc)
    assert result.returncode == 0, result.stderr


def test_status_is_only_writable_through_the_subresource(kube: Any, namespace: str, dubbingjob_crd: str) -> None:
    doc = _valid("status-split")
    doc["status"] = {"phase": "Succeeded"}
    assert _apply(kube, namespace, doc).returncode == 0
    stored = yaml.safe_load(kube.kubectl("get", "dj", "status-split", "-n", namespace, "-o", "yaml").stdout)
    assert "phase" not in (stored.get("status") or {})
    patched = kube.kubectl(
        "patch",
        "dj",
        "status-split",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Queued", "queuePosition": 2}}',
    )
    assert patched.returncode == 0
    stored = yaml.safe_load(kube.kubectl("get", "dj", "status-split", "-n", namespace, "-o", "yaml").stdout)
    assert stored["status"]["phase"] == "Queued" and stored["status"]["queuePosition"] == 2
    refused = kube.kubectl(
        "patch",
        "dj",
        "status-split",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Exploded"}}',
        check=False,
    )
    assert refused.returncode != 0 and "status.phase" in refused.stderr
