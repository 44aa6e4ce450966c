"""Request bodies and job options refuse what they do not know, naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dubbing_webui.jobs import build_job
from dubbing_webui.routes.api import JobCreate, NtfySettings, UploadCreate
from dubbing_webui.store import User

from .test_units import _rec


@pytest.mark.parametrize(
    "model,body,field",
    [
        (UploadCreate, {"name": "a.wav", "size": 1, "colour": "red"}, "colour"),
        (JobCreate, {"uploadId": "u", "targetLanguages": ["es"], "targetLanguage": "fr"}, "targetLanguage"),
        (NtfySettings, {"enabled": True, "topik": "x"}, "topik"),
    ],
)
def test_unknown_fields_are_refused(model, body, field) -> None:
    with pytest.raises(ValidationError) as err:
        model.model_validate(body)
    assert field in str(err.value) and "extra" in str(err.value).lower()


def test_unknown_job_option_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="options: unknown option.*turbo"):
        build_job(User("alice", "user"), _rec(), "dubbing", ["es"], "auto", {"turbo": True}, None)


@pytest.mark.parametrize("key,value", [("maxStretch", "fast"), ("priority", [1]), ("maxStretch", True)])
def test_non_numeric_options_name_the_field(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"options.{key}: must be a number"):
        build_job(User("alice", "user"), _rec(), "dubbing", ["es"], "auto", {key: value}, None)


def test_known_options_still_build() -> None:
    m = build_job(
        User("alice", "user"),
        _rec(),
        "dubbing",
        ["es"],
        "auto",
        {"tts": "piper", "container": "mkv", "maxStretch": "1.2", "priority": 60},
        None,
    )
    assert m["spec"]["stages"]["mix"]["maxStretch"] == 1.2 and m["spec"]["priority"] == 60
