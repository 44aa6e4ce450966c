"""The environment the chart renders loads with the programs' settings (no cluster needed).

For every value set: the operator's and the web UI's container env (a Secret reference stands in
as ``secret:<name>/<key>``) parse without error, both programs reach the same object store the same
way (host:port and TLS), and the stage Pods the operator would create get an S3 connection that
parses to the same.
"""

from __future__ import annotations

from typing import Any

import pytest

from dubbing.artifacts import S3Settings
from dubbing_operator.settings import Settings as OperatorSettings
from dubbing_webui.config import Settings as WebUISettings
from tests.shipping.conftest import VALUE_SETS, values_args


def _container_env(docs: list[dict[str, Any]], component: str) -> dict[str, str]:
    found = [
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    assert len(found) == 1, component
    env = {}
    for entry in found[0]["spec"]["template"]["spec"]["containers"][0].get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = f"secret:{ref['name']}/{ref['key']}"
    return env


HTTPS = ["-f", *values_args("external")[1:], "--set", "minio.external.endpoint=https://s3.example.com/"]


@pytest.mark.parametrize(
    "args", [values_args(name) for name in VALUE_SETS] + [HTTPS], ids=[*VALUE_SETS, "external-https"]
)
def test_the_rendered_env_loads_and_both_programs_agree_on_s3(helm, args):
    docs = helm.template(*args)
    operator = OperatorSettings.from_env(_container_env(docs, "operator"))
    webui = WebUISettings.from_env(_container_env(docs, "webui"))
    assert (operator.s3_endpoint, operator.s3_secure) == (webui.minio_endpoint, webui.minio_secure)
    assert operator.artifacts_url == f"s3://{webui.upload_bucket}"
    assert webui.admin_password and webui.admin_password.startswith("secret:")

    from dubbing_operator.podspec import build_pod
    from tests.operator.test_podspec import make_job

    pod_env = {
        e["name"]: e["value"]
        for e in build_pod(make_job(), "asr", 1, operator)["spec"]["containers"][0]["env"]
        if "value" in e
    }
    stage = S3Settings.from_env(pod_env)
    assert (stage.endpoint, stage.secure) == (webui.minio_endpoint, webui.minio_secure)
    if args is HTTPS:
        assert (stage.endpoint, stage.secure) == ("s3.example.com", True)


def test_stage_extra_env_reaches_the_stage_pods_and_loads_there(helm):
    """`stages.extraEnv` goes to the operator as DUBBING_STAGE_ENV (beside the URL-input switch) and
    from there into every stage Pod, where the stage's own settings read it."""
    docs = helm.template(
        "--set",
        "admissionPolicy.allowUrlInputs=true",
        "--set",
        "stages.extraEnv.DUBBING_S3_CONNECT_TIMEOUT_SECONDS=30",
        "--set",
        "stages.extraEnv.DUBBING_LOG_COPY_SECONDS=1m",
        "--set",
        "stages.extraEnv.DUBBING_S3_ENDPOINT=elsewhere:9000",  # the operator's own variables win
    )
    operator = OperatorSettings.from_env(_container_env(docs, "operator"))

    from dubbing.config.stage import StageSettings
    from dubbing_operator.podspec import build_pod
    from tests.operator.test_podspec import make_job

    pod_env = {
        e["name"]: e["value"]
        for e in build_pod(make_job(), "extract", 0, operator)["spec"]["containers"][0]["env"]
        if "value" in e
    }
    assert pod_env["DUBBING_INPUT_URLS"] == "true"
    assert S3Settings.from_env(pod_env).connect_timeout_seconds == 30.0
    assert StageSettings.from_env(pod_env).log_copy_seconds == 60.0
    assert pod_env["DUBBING_S3_ENDPOINT"] == operator.s3_endpoint != "elsewhere:9000"
