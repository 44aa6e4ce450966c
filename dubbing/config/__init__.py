"""The settings layer: every program's settings, read from the environment through one set of parsers.

:mod:`dubbing.config.base` has the base class and the parsers (booleans, durations, JSON, the S3
endpoint, ``_FILE`` secrets); :mod:`dubbing.config.stage` the stage process's settings;
:mod:`dubbing.config.docs` writes docs/settings.md from the models (``tools/gen_settings_doc.py``).
The operator's and the web UI's settings subclass the same base in their own packages.
"""

from .base import (
    Bool,
    BucketName,
    CommaList,
    DubbingSettings,
    FromJson,
    Seconds,
    SettingsError,
    WholeSeconds,
    parse_bool,
    parse_duration,
    parse_json,
    parse_s3_endpoint,
    setting,
)
from .stage import StageSettings

__all__ = [
    "Bool",
    "BucketName",
    "CommaList",
    "DubbingSettings",
    "FromJson",
    "Seconds",
    "SettingsError",
    "StageSettings",
    "WholeSeconds",
    "parse_bool",
    "parse_duration",
    "parse_json",
    "parse_s3_endpoint",
    "setting",
]
