"""The settings layer (dubbing/config): its parsers, the programs' settings on representative
environments (the same values the hand parsers gave), errors naming the variable, docs/settings.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dubbing.artifacts import S3Settings, StoreError, open_store
from dubbing.backends.base import BackendContext
from dubbing.config import SettingsError, StageSettings, parse_bool, parse_duration, parse_s3_endpoint
from dubbing.config.base import check_bucket_name, parse_whole_seconds
from dubbing_operator.settings import DEFAULT_RESOURCES
from dubbing_operator.settings import Settings as OperatorSettings
from dubbing_webui.config import Settings as WebUISettings

REPO = Path(__file__).resolve().parents[2]
RECORDED = json.loads((REPO / "tests" / "fixtures" / "settings_before.json").read_text())["cases"]
PROGRAMS = {"operator": OperatorSettings, "webui": WebUISettings}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------- booleans


@pytest.mark.parametrize("word", ["1", "true", "TRUE", "True", "yes", "on", " On "])
def test_bool_true_words(word):
    assert parse_bool(word) is True
    assert WebUISettings.from_env({"DUBBING_COOKIE_SECURE": word}).cookie_secure is True


@pytest.mark.parametrize("word", ["0", "false", "FALSE", "no", "off", " off"])
def test_bool_false_words(word):
    assert parse_bool(word) is False
    assert WebUISettings.from_env({"DUBBING_WATCH_JOBS": word}).watch_jobs is False


@pytest.mark.parametrize("word", ["maybe", "2", "t", "y", "enabled", "truee"])
def test_bool_other_words_are_refused_naming_the_variable(word):
    with pytest.raises(ValueError):
        parse_bool(word)
    with pytest.raises(SettingsError, match=f"DUBBING_KEEP_WORK={word!r}: expected a boolean"):
        StageSettings.from_env({"DUBBING_KEEP_WORK": word})
    with pytest.raises(SettingsError, match="DUBBING_S3_SECURE"):
        OperatorSettings.from_env({"DUBBING_S3_SECURE": word})


def test_empty_counts_as_unset():
    assert WebUISettings.from_env({"DUBBING_WATCH_JOBS": ""}).watch_jobs is True
    assert OperatorSettings.from_env({"DUBBING_MAX_ATTEMPTS": "", "DUBBING_NTFY_URL": ""}).max_attempts == 3


# ------------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(("text", "seconds"), [
    ("30", 30.0), ("0.5", 0.5), (".5", 0.5), ("-1", -1.0), ("1e3", 1000.0), (" 10 ", 10.0),
    ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("250ms", 0.25), ("1h30m", 5400.0),
    ("1m30s", 90.0), ("1.5m", 90.0), ("-5s", -5.0), ("5M", 300.0), (7, 7.0), (2.5, 2.5),
])  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "5 minutes", "5x", "1h 30m", "m5", "nan", "inf", "--1", True])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_durations_in_settings():
    s = OperatorSettings.from_env(
        {
            "DUBBING_RESYNC_SECONDS": "1m",
            "DUBBING_STAGE_TIMEOUT_SECONDS": "2h",
            "DUBBING_BACKOFF_BASE_SECONDS": "500ms",
            "DUBBING_NODE_LOST_TOLERATION_SECONDS": "90s",
        }
    )
    assert (s.resync_seconds, s.stage_timeout_seconds, s.backoff_base_seconds) == (60.0, 7200, 0.5)
    assert s.node_lost_toleration_seconds == 90
    assert (
        OperatorSettings.from_env({"DUBBING_NODE_LOST_TOLERATION_SECONDS": "-1"}).node_lost_toleration_seconds is None
    )
    assert parse_whole_seconds("1.0") == 1
    with pytest.raises(
        SettingsError, match=r"DUBBING_STAGE_TIMEOUT_SECONDS='1.5s': expected a whole number of seconds"
    ):
        OperatorSettings.from_env({"DUBBING_STAGE_TIMEOUT_SECONDS": "1.5s"})
    with pytest.raises(SettingsError, match="DUBBING_RESYNC_SECONDS='soon'"):
        OperatorSettings.from_env({"DUBBING_RESYNC_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="DUBBING_HEARTBEAT_SECONDS='-1'"):
        StageSettings.from_env({"DUBBING_HEARTBEAT_SECONDS": "-1"})
    assert StageSettings.from_env({"DUBBING_HEARTBEAT_SECONDS": "0"}).heartbeat_seconds == 0


# ------------------------------------------------------------------------------------- JSON


def test_json_settings():
    s = OperatorSettings.from_env({
        "DUBBING_NODE_SELECTOR": '{"pool": "dubbing"}', "DUBBING_TOLERATIONS": '[{"key": "k", "operator": "Exists"}]',
        "DUBBING_STAGE_ENV": '{"A": "1", "B": 2}', "DUBBING_STAGE_RESOURCES": '{"asr": {"requests": {"cpu": 2}}}',
    })  # fmt: skip
    assert s.node_selector == {"pool": "dubbing"} and s.tolerations == ({"key": "k", "operator": "Exists"},)
    assert s.stage_env == {"A": "1", "B": 2}
    assert s.resources["asr"] == {"requests": {"cpu": 2}} and s.resources["extract"] == DEFAULT_RESOURCES["extract"]


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("DUBBING_NODE_SELECTOR", "{pool: dubbing}", "not valid JSON"),
    ("DUBBING_NODE_SELECTOR", '["a"]', "valid dictionary"),
    ("DUBBING_NODE_SELECTOR", '{"pool": 1}', "valid string"),
    ("DUBBING_GPU_TOLERATIONS", '{"key": "k"}', "valid tuple"),
    ("DUBBING_STAGE_RESOURCES", '{"asrr": {}}', "unknown stage 'asrr'"),
    ("DUBBING_STAGE_RESOURCES", '{"asr": {"request": {}}}', "asr: expected"),
    ("DUBBING_STAGE_GPUS", "asr=2,nope=1", "unknown stage 'nope'"),
    ("DUBBING_STAGE_GPUS", "asr=two", "invalid literal"),
    ("DUBBING_STAGE_COMMAND", '["a", ', "not valid JSON"),
])  # fmt: skip
def test_bad_json_names_the_variable(variable, value, message):
    with pytest.raises(SettingsError) as caught:
        OperatorSettings.from_env({variable: value})
    text = str(caught.value)
    assert f"{variable}={value!r}" in text and message in text, text


# ------------------------------------------------------------------------------------- S3 endpoint


@pytest.mark.parametrize(("endpoint", "secure", "expected"), [
    ("minio:9000", None, ("minio:9000", False)),
    ("minio:9000", "true", ("minio:9000", True)),
    ("minio:9000", "false", ("minio:9000", False)),
    ("http://minio:9000", None, ("minio:9000", False)),
    ("http://minio:9000/", "0", ("minio:9000", False)),
    ("https://minio.example:9000/", None, ("minio.example:9000", True)),
    ("https://s3.amazonaws.com", "yes", ("s3.amazonaws.com", True)),
    ("HTTPS://s3.example", None, ("s3.example", True)),
    ("[::1]:9000", None, ("[::1]:9000", False)),
    (" 10.0.0.1:9000 ", None, ("10.0.0.1:9000", False)),
])  # fmt: skip
def test_s3_endpoint_forms_the_same_in_every_program(endpoint, secure, expected):
    env = {"DUBBING_S3_ENDPOINT": endpoint, **({"DUBBING_S3_SECURE": secure} if secure is not None else {})}
    op, web, stage = OperatorSettings.from_env(env), WebUISettings.from_env(env), S3Settings.from_env(env)
    assert (op.s3_endpoint, op.s3_secure) == expected
    assert (web.minio_endpoint, web.minio_secure) == expected
    assert (stage.endpoint, stage.secure) == expected


@pytest.mark.parametrize(("endpoint", "secure", "message"), [
    ("https://minio:9000", "false", "the https:// scheme contradicts DUBBING_S3_SECURE=false"),
    ("http://minio:9000", "true", "the http:// scheme contradicts DUBBING_S3_SECURE=true"),
    ("ftp://minio:9000", None, "scheme must be http:// or https://"),
    ("minio:9000/bucket", None, "no path"),
    ("http://minio:99999", None, "bad host or port"),
    ("http://minio:0", None, "port from 1 to 65535"),
    ("https://", None, "no host"),
    ("minio:9000", "maybe", "DUBBING_S3_SECURE='maybe': expected a boolean"),
])  # fmt: skip
def test_bad_s3_endpoints_fail_in_every_program(endpoint, secure, message):
    env = {"DUBBING_S3_ENDPOINT": endpoint, **({"DUBBING_S3_SECURE": secure} if secure is not None else {})}
    for program in (OperatorSettings, WebUISettings, S3Settings):
        with pytest.raises(SettingsError, match="DUBBING_S3_") as caught:
            program.from_env(env)
        assert message in str(caught.value), str(caught.value)


def test_s3_endpoint_parser_directly():
    assert parse_s3_endpoint("https://h:1") == ("h:1", True)
    assert parse_s3_endpoint("h:1", True) == ("h:1", True)
    with pytest.raises(ValueError, match="contradicts the secure flag=false"):
        parse_s3_endpoint("https://h:1", False)
    # given in Python (no environment), the same checks apply
    assert WebUISettings(minio_endpoint="https://h:1").minio_secure is True
    with pytest.raises(ValueError, match="DUBBING_S3_ENDPOINT='ftp://h': scheme must be"):
        WebUISettings(minio_endpoint="ftp://h")


def test_operator_passes_the_parsed_endpoint_to_stage_pods():
    from dubbing_operator.podspec import build_pod
    from tests.operator.test_podspec import make_job

    s = OperatorSettings.from_env({"DUBBING_S3_ENDPOINT": "https://s3.example:443/"})
    env = {e["name"]: e.get("value") for e in build_pod(make_job(), "asr", 1, s)["spec"]["containers"][0]["env"]}
    assert env["DUBBING_S3_ENDPOINT"] == "s3.example:443" and env["DUBBING_S3_SECURE"] == "true"
    stage = S3Settings.from_env({k: v for k, v in env.items() if v is not None})
    assert (stage.endpoint, stage.secure) == ("s3.example:443", True)


def test_stage_s3_endpoint_is_required():
    with pytest.raises(StoreError, match="DUBBING_S3_ENDPOINT is not set"):
        S3Settings.from_env({"DUBBING_S3_ACCESS_KEY": "a"})


# ------------------------------------------------------------------------------------- _FILE secrets


def test_file_secrets(tmp_path):
    (tmp_path / "password").write_text("s3cret-from-file\n")
    (tmp_path / "empty").write_text("\n")
    env = {
        "DUBBING_ADMIN_PASSWORD_FILE": str(tmp_path / "password"),
        "DUBBING_S3_SECRET_KEY_FILE": str(tmp_path / "empty"),
    }
    s = WebUISettings.from_env(env)
    assert s.admin_password == "s3cret-from-file"  # whitespace stripped
    assert s.minio_secret_key == "minioadmin"  # an empty file counts as unset
    # the variable itself wins over its file
    assert WebUISettings.from_env({**env, "DUBBING_ADMIN_PASSWORD": "from-env"}).admin_password == "from-env"
    # any setting may come from a file, not only secrets
    (tmp_path / "bucket").write_text("uploads")
    assert WebUISettings.from_env({"DUBBING_S3_BUCKET_FILE": str(tmp_path / "bucket")}).upload_bucket == "uploads"
    (tmp_path / "token").write_text("tk_1")
    assert OperatorSettings.from_env({"DUBBING_NTFY_TOKEN_FILE": str(tmp_path / "token")}).ntfy_token == "tk_1"
    (tmp_path / "hf").write_text("hf_x")
    assert StageSettings.from_env({"HF_TOKEN_FILE": str(tmp_path / "hf")}).hf_token == "hf_x"


def test_a_missing_secret_file_is_an_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(SettingsError, match=f"DUBBING_ADMIN_PASSWORD_FILE='{missing}': cannot read the file"):
        WebUISettings.from_env({"DUBBING_ADMIN_PASSWORD_FILE": str(missing)})


def test_an_invalid_value_from_a_file_names_the_file_variable(tmp_path):
    (tmp_path / "chunk").write_text("12")
    with pytest.raises(SettingsError) as caught:
        WebUISettings.from_env(
            {"DUBBING_UPLOAD_CHUNK_BYTES_FILE": str(tmp_path / "chunk"), "DUBBING_SESSION_HOURS": "x"}
        )
    text = str(caught.value)
    assert (
        f"DUBBING_UPLOAD_CHUNK_BYTES_FILE='{tmp_path / 'chunk'}': Input should be greater than or equal to 5242880"
        in text
    )
    assert "DUBBING_SESSION_HOURS='x'" in text


def test_secrets_are_hidden():
    assert "hunter2" not in repr(WebUISettings(admin_password="hunter2"))
    assert "tk_1" not in repr(OperatorSettings(ntfy_token="tk_1"))


# ------------------------------------------------------------------------------------- errors at start


def test_every_invalid_variable_is_named_at_once():
    with pytest.raises(SettingsError) as caught:
        WebUISettings.from_env(
            {
                "DUBBING_S3_BUCKET": "Bad_Bucket",
                "DUBBING_UPLOAD_CHUNK_BYTES": "1024",
                "DUBBING_WEBUI_PORT": "http",
                "DUBBING_LOG_LEVEL": "loud",
                "DUBBING_S3_ENDPOINT": "https://minio:9000",
                "DUBBING_S3_SECURE": "no",
            }
        )
    text = str(caught.value)
    for variable in (
        "DUBBING_S3_BUCKET='Bad_Bucket'",
        "DUBBING_UPLOAD_CHUNK_BYTES='1024'",
        "DUBBING_WEBUI_PORT='http'",
        "DUBBING_LOG_LEVEL='loud'",
        "DUBBING_S3_ENDPOINT='https://minio:9000'",
    ):
        assert variable in text, text


@pytest.mark.parametrize("name", ["ab", "a" * 64, "Uploads", "up_loads", "-up", "up-", "a..b", "192.168.1.1", "a.-b"])
def test_invalid_bucket_names(name):
    with pytest.raises(ValueError):
        check_bucket_name(name)


@pytest.mark.parametrize("name", ["abc", "a" * 63, "dubbing-uploads", "gate-ns-1", "my.bucket.1"])
def test_valid_bucket_names(name):
    assert check_bucket_name(name) == name


def test_operator_artifacts_url_is_checked():
    assert OperatorSettings.from_env({"DUBBING_ARTIFACTS_URL": "s3://art/prefix"}).artifacts_url == "s3://art/prefix"
    assert OperatorSettings.from_env({"DUBBING_ARTIFACTS_URL": "file:///srv/a"}).artifacts_url == "file:///srv/a"
    for bad in ("s3://Art", "gs://b", "s3:///x"):
        with pytest.raises(SettingsError, match="DUBBING_ARTIFACTS_URL"):
            OperatorSettings.from_env({"DUBBING_ARTIFACTS_URL": bad})


def _run_module(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(str(REPO / p) for p in ("", "operator", "webui"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DUBBING_")}
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**clean, "PYTHONPATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_the_web_ui_stops_at_start_on_an_invalid_bucket(tmp_path):
    proc = _run_module("dubbing_webui", {"DUBBING_S3_BUCKET": "Not_A_Bucket", "DUBBING_DATA_DIR": str(tmp_path)})
    assert proc.returncode != 0
    assert "DUBBING_S3_BUCKET='Not_A_Bucket'" in proc.stderr and "not a valid S3 bucket name" in proc.stderr, (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_the_operator_stops_at_start_naming_the_variable():
    proc = _run_module("dubbing_operator", {"DUBBING_MAX_ATTEMPTS": "three", "DUBBING_METRICS_PORT": "0"})
    assert proc.returncode != 0
    assert "DUBBING_MAX_ATTEMPTS='three'" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------------- same values as before


@pytest.mark.parametrize("case", sorted(RECORDED))
def test_representative_environments_give_the_values_the_hand_parsers_gave(case):
    """The chart's value sets, devcluster's web UI and product, the operator tests: recorded with the
    hand parsers (tests/fixtures/settings_before.json), parsed now by the settings layer."""
    recorded = RECORDED[case]
    settings = PROGRAMS[recorded["program"]].from_env(recorded["env"])
    got = {name: _plain(getattr(settings, name)) for name in recorded["expected"]}
    assert got == recorded["expected"]


def test_direct_construction_reads_no_environment(monkeypatch):
    monkeypatch.setenv("DUBBING_MAX_ATTEMPTS", "9")
    monkeypatch.setenv("DUBBING_S3_BUCKET", "Not_A_Bucket")
    assert OperatorSettings().max_attempts == 3 and OperatorSettings(max_attempts=5).max_attempts == 5
    assert WebUISettings().upload_bucket == "dubbing"
    assert OperatorSettings.from_env().max_attempts == 9


def test_stage_settings_and_the_backend_context(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith("DUBBING_") or n in ("HF_TOKEN", "COQUI_TOS_AGREED")]:
        monkeypatch.delenv(name)
    s = StageSettings.from_env({})
    assert (
        s.model_cache == Path.home() / ".cache" / "dubbing" / "models" and s.device == "auto" and s.keep_work is False
    )
    assert s.termination_message_path == "/dev/termination-log" and s.heartbeat_seconds == 10.0
    monkeypatch.setenv("DUBBING_MODEL_CACHE", str(tmp_path))
    monkeypatch.setenv("DUBBING_DEVICE", "cpu")
    monkeypatch.setenv("COQUI_TOS_AGREED", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_1")
    context = BackendContext.from_env()
    assert context.model_cache == tmp_path and context.device == "cpu"
    assert context.settings == {
        "coquiTermsAccepted": True,
        "hfToken": "hf_1",
        "llmEndpoint": None,
        "llmModel": None,
        "llmApiKey": None,
        "llmTimeoutSeconds": 120.0,
        "llmConcurrency": 2,
    }
    monkeypatch.setenv("DUBBING_LLM_ENDPOINT", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("DUBBING_LLM_API_KEY", "sk-1")
    monkeypatch.setenv("DUBBING_LLM_CONCURRENCY", "4")
    llm = BackendContext.from_env().settings
    assert (llm["llmEndpoint"], llm["llmApiKey"], llm["llmConcurrency"]) == ("http://127.0.0.1:8000/v1", "sk-1", 4)
    assert "sk-1" not in repr(StageSettings.from_env())
    monkeypatch.delenv("COQUI_TOS_AGREED")
    monkeypatch.setenv("DUBBING_COQUI_TERMS_ACCEPTED", "yes")
    assert BackendContext.from_env().settings["coquiTermsAccepted"] is True
    monkeypatch.setenv("DUBBING_DEVICE", "gpu")
    with pytest.raises(SettingsError, match="DUBBING_DEVICE='gpu'"):
        BackendContext.from_env()


def test_open_store_reads_the_stage_settings(tmp_path):
    store = open_store(env={"DUBBING_ARTIFACTS": f"file://{tmp_path}"})
    assert store.url().startswith("file://")
    with pytest.raises(ValueError, match="DUBBING_ARTIFACTS"):
        open_store(env={})


# ------------------------------------------------------------------------------------- docs


def test_every_setting_is_described():
    for program in (OperatorSettings, WebUISettings, StageSettings, S3Settings):
        for name, field in program.model_fields.items():
            assert field.description, f"{program.__module__}.{program.__name__}.{name} has no description"


def test_docs_settings_md_is_up_to_date():
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_settings_doc.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
