"""Stage Pod manifests: names, labels, ownership, security, GPU placement, resources, env."""

from __future__ import annotations

import json

from dubbing_operator.naming import pod_name
from dubbing_operator.podspec import NODE_LOST_TAINTS, build_pod, stage_gpus
from dubbing_operator.settings import Settings

from .helpers import make_job

S = Settings()


def env_of(pod):
    return {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}


def test_pod_names_are_deterministic_and_fit():
    assert pod_name("clip", "asr", 2) == "clip-asr-2"
    long = "a" * 70
    name = pod_name(long, "translate", 10)
    assert len(name) <= 63 and name.endswith("-translate-10") and name == pod_name(long, "translate", 10)
    assert pod_name("a" * 60 + "x", "asr", 1) != pod_name("a" * 60 + "y", "asr", 1)


def test_labels_owner_reference_and_security():
    pod = build_pod(make_job(), "extract", 1, S)
    labels = pod["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "dubbing"
    assert labels["app.kubernetes.io/component"] == "stage"
    assert labels["app.kubernetes.io/instance"] == "clip"
    assert labels["app.kubernetes.io/managed-by"] == "dubbing-operator"
    assert labels["app.kubernetes.io/part-of"] == "dubbing"
    assert labels["dubbing.dev/job"] == "clip" and labels["dubbing.dev/stage"] == "extract"
    assert labels["dubbing.dev/attempt"] == "1" and labels["dubbing.dev/owner"] == "ns"
    ref = pod["metadata"]["ownerReferences"][0]
    assert ref["controller"] is True and ref["blockOwnerDeletion"] is True and ref["uid"] == "uid-1"
    c = pod["spec"]["containers"][0]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] and sc["runAsUser"] == 10001 and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert pod["spec"]["restartPolicy"] == "Never" and pod["spec"]["activeDeadlineSeconds"] == S.stage_timeout_seconds
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_gpu_stages_request_gpu_and_tolerate_taint_cpu_stages_do_not():
    job = make_job()
    for stage in ("separate", "diarize", "asr", "tts"):
        pod = build_pod(job, stage, 1, S)
        res = pod["spec"]["containers"][0]["resources"]
        assert res["limits"]["nvidia.com/gpu"] == "1" and res["requests"]["nvidia.com/gpu"] == "1"
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
        assert env_of(pod)["DUBBING_DEVICE"]["value"] == "cuda"
    for stage in ("extract", "translate", "mix", "mux", "score"):
        pod = build_pod(job, stage, 1, S)
        res = pod["spec"]["containers"][0]["resources"]
        assert "nvidia.com/gpu" not in res.get("limits", {})
        assert [t["key"] for t in pod["spec"]["tolerations"]] == list(NODE_LOST_TAINTS)  # no GPU toleration
        assert env_of(pod)["DUBBING_DEVICE"]["value"] == "cpu"


def test_light_backends_and_job_counts_and_resource_name():
    job = make_job(stages={"separate": {"backend": "none"}, "tts": {"backend": "espeak"}, "asr": {"gpus": 2},
                           "diarize": {"backend": "single"}})  # fmt: skip
    assert [stage_gpus(job, s, S) for s in ("separate", "tts", "asr", "diarize")] == [0, 0, 2, 0]
    s = Settings(gpu_resource="amd.com/gpu", gpu_counts={**S.gpu_counts, "asr": 3})
    pod = build_pod(make_job(), "asr", 1, s)
    assert pod["spec"]["containers"][0]["resources"]["limits"]["amd.com/gpu"] == "3"


def test_placement_from_job_and_operator_and_resource_overrides():
    s = Settings(node_selector={"pool": "dubbing"}, tolerations=({"key": "dedicated", "operator": "Exists"},))
    job = make_job(placement={"nodeSelector": {"zone": "a"}, "tolerations": [{"key": "spot", "operator": "Exists"}]},
                   stages={"extract": {"resources": {"limits": {"memory": "3Gi"}}, "timeoutSeconds": 60}})  # fmt: skip
    pod = build_pod(job, "extract", 1, s)
    assert pod["spec"]["nodeSelector"] == {"pool": "dubbing", "zone": "a"}
    keys = [t["key"] for t in pod["spec"]["tolerations"]]
    assert keys == [*NODE_LOST_TAINTS, "dedicated", "spot"]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "3Gi"
    assert pod["spec"]["activeDeadlineSeconds"] == 60


def test_stage_env_contract():
    s = Settings(artifacts_url="s3://art", s3_secret_name="creds", stage_command=("python", "x.py", "{stage}"))
    pod = build_pod(make_job(), "asr", 1, s)
    env = env_of(pod)
    job = json.loads(env["DUBBING_JOB"]["value"])
    assert job["metadata"] == {"name": "clip", "namespace": "ns", "uid": "uid-1"} and job["spec"][
        "targetLanguages"
    ] == ["es"]
    assert env["DUBBING_ARTIFACTS"]["value"] == "s3://art"
    assert env["DUBBING_S3_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "creds"
    assert env["DUBBING_TERMINATION_MESSAGE_PATH"]["value"] == "/dev/termination-log"
    assert pod["spec"]["containers"][0]["command"] == ["python", "x.py", "asr"]


def test_settings_from_env():
    s = Settings.from_env({
        "DUBBING_STAGE_COMMAND": "python /x/fake.py {stage}", "DUBBING_STAGE_GPUS": "asr=2,translate=1",
        "DUBBING_MAX_RUNNING_GPU_JOBS": "1", "DUBBING_NTFY_URL": "http://n/", "DUBBING_BACKOFF_BASE_SECONDS": "0.5",
    })  # fmt: skip
    assert s.stage_command == ("python", "/x/fake.py", "{stage}")
    assert s.gpu_counts["asr"] == 2 and s.gpu_counts["translate"] == 1 and s.gpu_counts["extract"] == 0
    assert s.max_running_gpu_jobs == 1 and s.ntfy_url == "http://n" and s.backoff_base_seconds == 0.5


def test_stage_pods_leave_a_lost_node_after_the_configured_seconds():
    pod = build_pod(make_job(), "asr", 1, Settings(node_lost_toleration_seconds=20))
    lost = [t for t in pod["spec"]["tolerations"] if t["key"] in NODE_LOST_TAINTS]
    assert lost == [
        {"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 20} for k in NODE_LOST_TAINTS
    ]
    assert "tolerations" not in build_pod(make_job(), "extract", 1, Settings(node_lost_toleration_seconds=None))["spec"]
    assert Settings.from_env({"DUBBING_NODE_LOST_TOLERATION_SECONDS": "-1"}).node_lost_toleration_seconds is None
    assert Settings.from_env({}).node_lost_toleration_seconds == 60


def test_llm_endpoint_model_and_key_secret_reach_translate_and_tts_only():
    assert "DUBBING_LLM_ENDPOINT" not in env_of(build_pod(make_job(), "translate", 1, S))
    settings = Settings(llm_endpoint="http://vllm.ai.svc:8000/v1", llm_model="qwen2.5:7b", llm_api_key_secret="llm-key")
    for stage in ("translate", "tts"):
        env = env_of(build_pod(make_job(), stage, 1, settings))
        assert env["DUBBING_LLM_ENDPOINT"]["value"] == "http://vllm.ai.svc:8000/v1"
        assert env["DUBBING_LLM_MODEL"]["value"] == "qwen2.5:7b"
        ref = env["DUBBING_LLM_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "llm-key", "key": "apiKey", "optional": True}
    for stage in ("asr", "mix"):
        assert not any(name.startswith("DUBBING_LLM_") for name in env_of(build_pod(make_job(), stage, 1, settings)))
