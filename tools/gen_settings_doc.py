#!/usr/bin/env python3
"""Generate docs/settings.md from the settings models (the committed file is the output of this script).

    python tools/gen_settings_doc.py           # rewrite docs/settings.md
    python tools/gen_settings_doc.py --check   # exit 1 if it is stale

One table per program (variable, type, default, description), from the fields of
``dubbing_operator.settings.Settings``, ``dubbing_webui.config.Settings``,
``dubbing.config.stage.StageSettings`` and ``dubbing.artifacts.S3Settings`` (dubbing/config/docs.py
renders them). Needs the core, the operator and the web UI installed (`make setup` installs all three).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "docs" / "settings.md"
SCRIPT = "tools/gen_settings_doc.py"


def render() -> str:
    from dubbing.artifacts import S3Settings
    from dubbing.config.docs import Program
    from dubbing.config.docs import render as render_programs
    from dubbing.config.stage import StageSettings
    from dubbing_operator.settings import Settings as OperatorSettings
    from dubbing_webui.config import Settings as WebUISettings

    return render_programs(
        [
            Program(
                "Operator (`dubbing-operator`)",
                "The chart sets these on the operator's Deployment (charts/dubbing/templates/operator/deployment.yaml); "
                "`operator.extraEnv` adds others. Most of them shape the stage Pods (docs/operator.md).",
                OperatorSettings,
            ),
            Program(
                "Web UI (`dubbing-webui`)",
                "The chart sets these on the web UI's Deployment (charts/dubbing/templates/webui/deployment.yaml); "
                "`webui.extraEnv` adds others (docs/webui.md).",
                WebUISettings,
            ),
            Program(
                "Stages (`dubbing stage`, `dubbing run`)",
                "The operator sets `DUBBING_ARTIFACTS`, `DUBBING_MODEL_CACHE`, `DUBBING_DEVICE` and "
                "`DUBBING_TERMINATION_MESSAGE_PATH` on every stage Pod, besides the job itself (`DUBBING_JOB`, "
                "docs/pipeline.md); `DUBBING_STAGE_ENV` adds others. On a laptop all are optional.",
                StageSettings,
            ),
            Program(
                "Stages: the S3 connection",
                "Read when the artifact store is `s3://`; the operator sets them on every stage Pod from its own "
                "`DUBBING_S3_ENDPOINT` / `DUBBING_S3_SECURE` and the Secret `DUBBING_S3_SECRET_NAME`.",
                S3Settings,
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/settings.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(REPO)} is stale: run python {SCRIPT}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
