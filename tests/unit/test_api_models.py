"""The Pydantic models are the source of truth: the committed CRD must match them."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from dubbing.api import crd, v1alpha1

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_committed_crd_matches_models() -> None:
    assert crd.main(["--check"]) == 0


def test_crd_has_status_subresource_printer_columns_and_short_name() -> None:
    doc = crd.build_crd()
    version = doc["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]][:3] == ["Phase", "Stage", "Progress"]
    assert doc["spec"]["names"]["shortNames"] == ["dj"]


def test_schema_is_structural() -> None:
    """Every node has a type (or is int-or-string / preserve-unknown); no leftover $ref or titles."""

    def walk(node: dict, path: str) -> None:
        assert "$ref" not in node and "title" not in node, path
        assert (
            "type" in node or node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        ), path
        for name, child in node.get("properties", {}).items():
            walk(child, f"{path}.{name}")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}[*]")
        if "items" in node:
            walk(node["items"], f"{path}[]")

    walk(crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_parse(path: Path) -> None:
    job = v1alpha1.DubbingJob.from_k8s(yaml.safe_load(path.read_text()))
    assert job.spec.targetLanguages


def test_stage_defaults_are_filled_in() -> None:
    spec = v1alpha1.DubbingJobSpec.model_validate(
        {"input": {"bucket": "abc", "key": "k"}, "targetLanguages": ["pt-BR"]}
    )
    assert spec.stages.for_stage("mix").maxStretch == 1.25
    assert spec.stages.for_stage("asr").backend == "auto"
    assert set(v1alpha1.BACKENDS) == set(v1alpha1.STAGES)


@pytest.mark.parametrize(
    "patch",
    [
        {"targetLanguages": ["Portuguese"]},
        {"targetLanguages": []},
        {"stages": {"karaoke": {}}},
        {"stages": {"tts": {"backend": "festival"}}},
        {"stages": {"asr": {"gpus": -1}}},
        {"colour": "blue"},
        {"input": {}},
        {"input": {"bucket": "abc"}},
        {"input": {"bucket": "abc", "key": "k", "url": "https://example.test/a.mp4"}},
        {"notify": {"topic": "no spaces allowed"}},
        {"stages": {"score": {"backend": "vibes"}}},
        {"stages": {"score": {"asrModel": "../../etc"}}},
    ],
)
def test_models_refuse_what_the_crd_refuses(patch: dict) -> None:
    body = {"input": {"bucket": "abc", "key": "k"}, "targetLanguages": ["pt-BR"], **patch}
    with pytest.raises(ValidationError):
        v1alpha1.DubbingJobSpec.model_validate(body)


def test_score_is_the_last_stage_per_language_with_its_options_and_status_quality() -> None:
    assert v1alpha1.STAGES[-2:] == ("mux", "score") and "score" in v1alpha1.PER_LANGUAGE_STAGES
    spec = v1alpha1.DubbingJobSpec.model_validate(
        {
            "input": {"bucket": "abc", "key": "k"},
            "targetLanguages": ["pt-BR"],
            "stages": {"score": {"asrModel": "small"}},
        }
    )
    score = spec.stages.for_stage("score")
    assert (score.backend, score.asrModel, score.transcribeMix) == ("auto", "small", False)
    out = v1alpha1.LanguageOutput.model_validate({
        "language": "pt-BR", "report": "jobs/ns/j/outputs/pt-BR/scorecard.json",
        "quality": {"wer": 0.3, "fitShare": 1.0, "maxCrossSpeakerSimilarity": 0.99, "lufs": -16.2, "unmeasured": ["sync"]},
    })  # fmt: skip
    assert out.quality.wer == 0.3 and out.quality.unmeasured == ["sync"]
    for bad in ({"fitShare": 1.2}, {"minSourceSimilarity": -1.5}, {"wer": -0.1}, {"bogus": 1}):
        with pytest.raises(ValidationError):
            v1alpha1.LanguageQuality.model_validate(bad)
    # the CRD's status schema carries the same bounds, so the API server refuses what the models refuse
    quality = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["outputs"][
        "properties"]["languages"]["items"]["properties"]["quality"]["properties"]  # fmt: skip
    assert quality["fitShare"]["maximum"] == 1 and quality["wer"]["minimum"] == 0
