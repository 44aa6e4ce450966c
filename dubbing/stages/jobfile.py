"""The job a stage runs: read from ``$DUBBING_JOB`` or a file, and validated."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..api.v1alpha1 import DubbingJob
from .errors import InputError


def load_job(job_file: str | None = None, env: Mapping[str, str] | None = None) -> DubbingJob:
    environ = os.environ if env is None else env
    try:
        if job_file:
            text = Path(job_file).read_text(encoding="utf-8")
            import yaml

            data = yaml.safe_load(text)
        else:
            raw = environ.get("DUBBING_JOB", "")
            if not raw:
                raise InputError("InvalidJob", "no job: set DUBBING_JOB (the DubbingJob as JSON) or pass --job-file")
            data = json.loads(raw)
    except (OSError, ValueError) as error:
        raise InputError("InvalidJob", f"cannot read the job: {error}") from None
    return parse_job(data)


def parse_job(data: Any) -> DubbingJob:
    """A DubbingJob from its manifest (status ignored); InputError(InvalidJob) naming the first bad field."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise InputError("InvalidJob", "the job is not a JSON/YAML object")
    data = {key: value for key, value in data.items() if key != "status"}
    try:
        return DubbingJob.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise InputError("InvalidJob", f"invalid DubbingJob: {where}: {first.get('msg')}") from None
