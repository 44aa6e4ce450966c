"""Pure decisions of the development kubelet: env, status, node object, logs, volumes, image map."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from devcluster.kubelet_env import ConfigError, expand, expand_command, parse_quantity, resolve_env
from devcluster.kubelet_logs import LogQuery, format_line, parse_query, read_log, render
from devcluster.kubelet_node import NodeSpec, node_conditions, node_object, node_status, parse_taint
from devcluster.kubelet_runtime import ImageEntry, base_env, executable_by, image_entry, load_image_map
from devcluster.kubelet_status import (
    ContainerFacts,
    PodOutcome,
    container_status,
    deadline_passed,
    exit_code_of,
    lost_pod_status,
    pod_phase,
    pod_status,
    termination_message,
)
from devcluster.kubelet_volumes import mounts_for

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
POD = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "x"}},
    "spec": {"nodeName": "n1", "serviceAccountName": "default"},
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _lookups():
    secret = {"kind": "Secret", "data": {"TOKEN": _b64("s3cret"), "bad key": _b64("x")}}
    cm = {"kind": "ConfigMap", "data": {"MODE": "fast", "LEVEL": "3"}}
    return (
        lambda ns, n: secret if (ns, n) == ("ns", "sec") else None,
        lambda ns, n: cm if (ns, n) == ("ns", "cm") else None,
    )


def test_expand_handles_references_escapes_and_unknowns():
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)-$$(A)-$", env) == "1-two-$(C)-$(A)-$"


def test_env_order_sources_and_field_refs():
    secrets, cms = _lookups()
    container = {
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CFG_"}, {"secretRef": {"name": "sec"}}],
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "MODE"}}},
            {"name": "COMBO", "value": "$(MODE)/$(TOKEN)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k", "optional": True}}},
        ],
        "command": ["echo", "$(COMBO)"],
    }
    env = resolve_env(container, POD, secrets=secrets, configmaps=cms, node_name="n1")
    assert env["CFG_MODE"] == "fast" and env["CFG_LEVEL"] == "3" and env["TOKEN"] == "s3cret"
    assert "bad key" not in env and "OPT" not in env
    assert (env["MODE"], env["COMBO"], env["POD"], env["APP"], env["NODE"], env["IP"]) == (
        "fast",
        "fast/s3cret",
        "p",
        "x",
        "n1",
        "127.0.0.1",
    )
    assert expand_command(container, env) == ["echo", "fast/s3cret"]


def test_env_missing_sources_are_config_errors():
    secrets, cms = _lookups()
    with pytest.raises(ConfigError, match='secret "nope" not found'):
        resolve_env({"envFrom": [{"secretRef": {"name": "nope"}}]}, POD, secrets=secrets, configmaps=cms, node_name="n")
    with pytest.raises(ConfigError, match="couldn't find key NOPE"):
        resolve_env(
            {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "NOPE"}}}]},
            POD,
            secrets=secrets,
            configmaps=cms,
            node_name="n",
        )


def test_resource_field_ref_and_quantities():
    assert parse_quantity("500m") == Fraction(1, 2) and parse_quantity("1Gi") == 2**30
    container = {
        "resources": {"limits": {"memory": "1Gi", "cpu": "1500m"}},
        "env": [
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ],
    }
    env = resolve_env(container, POD, secrets=lambda *a: None, configmaps=lambda *a: None, node_name="n")
    assert env == {"MEM": "1024", "CPU": "2"}


def _done(name: str, code: int, start: datetime = T0) -> ContainerFacts:
    return ContainerFacts(
        name, "img", "terminated", "Completed" if code == 0 else "Error", "", start, start + timedelta(seconds=2), code
    )


def test_pod_phase_follows_containers():
    waiting = ContainerFacts("c", "img")
    running = ContainerFacts("c", "img", "running", started_at=T0)
    assert pod_phase([], [waiting], "Never") == "Pending"
    assert pod_phase([], [running], "Never") == "Running"
    assert pod_phase([], [_done("a", 0), running], "Never") == "Running"
    assert pod_phase([], [_done("a", 0), _done("b", 0)], "Never") == "Succeeded"
    assert pod_phase([], [_done("a", 0), _done("b", 2)], "Never") == "Failed"
    assert pod_phase([], [_done("a", 2)], "OnFailure") == "Running"
    assert pod_phase([], [_done("a", 0)], "Always") == "Running"
    assert pod_phase([_done("i", 1)], [waiting], "Never") == "Failed"
    assert pod_phase([_done("i", 0), running], [waiting], "Never") == "Pending"


def test_pod_status_document_and_condition_times():
    running = ContainerFacts("c", "repo/img:1", "running", started_at=T0, container_id="devkubelet://42")
    prev = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"},
        {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-02T03:04:05Z"},
        {"type": "DisruptionTarget", "status": "True"},
    ]
    st = pod_status(
        init=[],
        main=[running],
        restart_policy="Never",
        start_time=T0,
        now=T0 + timedelta(seconds=9),
        previous_conditions=prev,
    )
    conds = {c["type"]: c for c in st["conditions"]}
    assert st["phase"] == "Running" and st["podIP"] == "127.0.0.1" and st["startTime"] == "2025-01-02T03:04:05Z"
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["lastTransitionTime"] == "2025-01-02T03:04:05Z"
    assert conds["PodScheduled"]["lastTransitionTime"] == "2025-01-01T00:00:00Z" and "DisruptionTarget" in conds
    cs = st["containerStatuses"][0]
    assert cs["state"] == {"running": {"startedAt": "2025-01-02T03:04:05Z"}}
    assert cs["imageID"] == "devkubelet://repo/img:1" and cs["ready"] is True

    done = pod_status(
        init=[],
        main=[_done("c", 0)],
        restart_policy="Never",
        start_time=T0,
        now=T0 + timedelta(seconds=30),
        previous_conditions=st["conditions"],
    )
    conds = {c["type"]: c for c in done["conditions"]}
    assert done["phase"] == "Succeeded"
    assert conds["Ready"] == {
        "type": "Ready",
        "status": "False",
        "reason": "PodCompleted",
        "lastProbeTime": None,
        "lastTransitionTime": "2025-01-02T03:04:35Z",
    }
    term = done["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"], term["startedAt"], term["finishedAt"]) == (
        0,
        "Completed",
        "2025-01-02T03:04:05Z",
        "2025-01-02T03:04:07Z",
    )

    failed = pod_status(
        init=[],
        main=[_done("c", 143)],
        restart_policy="Never",
        start_time=T0,
        now=T0,
        outcome=PodOutcome("Failed", "DeadlineExceeded", "too long"),
    )
    assert (failed["phase"], failed["reason"], failed["message"]) == ("Failed", "DeadlineExceeded", "too long")


def test_termination_message_rules():
    assert termination_message(b'{"ok": true}', ["x"], 1, "FallbackToLogsOnError") == '{"ok": true}'
    assert termination_message(b"", ["a", "b"], 1, "File") == ""
    assert termination_message(b"", ["a", "b"], 0, "FallbackToLogsOnError") == ""
    lines = [f"line {i}" for i in range(200)]
    msg = termination_message(b"", lines, 3, "FallbackToLogsOnError")
    assert msg.splitlines() == lines[-80:]
    assert len(termination_message(b"x" * 10000, [], 0, "File")) == 4096
    assert exit_code_of(-15) == 143 and exit_code_of(-9) == 137 and exit_code_of(3) == 3
    assert container_status(_done("c", 3))["state"]["terminated"]["reason"] == "Error"


def test_deadline_and_lost_pods():
    assert not deadline_passed(T0, None, T0 + timedelta(days=1))
    assert not deadline_passed(T0, 5, T0 + timedelta(seconds=4))
    assert deadline_passed(T0, 5, T0 + timedelta(seconds=5))
    pod = {
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "state": {"running": {"startedAt": "2025-01-02T03:04:05Z"}}}],
        }
    }
    st = lost_pod_status(pod, T0 + timedelta(seconds=60))
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert st["phase"] == "Failed" and st["reason"] == "NodeRestarted"
    assert (
        term["exitCode"] == 137
        and term["startedAt"] == "2025-01-02T03:04:05Z"
        and term["finishedAt"] == "2025-01-02T03:05:05Z"
    )


def test_node_object_and_status():
    spec = NodeSpec(
        "gpu-1",
        10250,
        "4",
        "8Gi",
        gpus=2,
        labels={"zone": "a"},
        taints=(parse_taint("nvidia.com/gpu=present:NoSchedule"),),
    )
    obj = node_object(spec)
    assert obj["metadata"]["labels"]["kubernetes.io/hostname"] == "gpu-1" and obj["metadata"]["labels"]["zone"] == "a"
    assert obj["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    st = node_status(spec, T0, None)
    assert st["capacity"] == {"cpu": "4", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"}
    assert st["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert st["nodeInfo"]["kubeletVersion"] == "v1.31.4"
    assert {"type": "InternalIP", "address": "127.0.0.1"} in st["addresses"]
    ready = [c for c in st["conditions"] if c["type"] == "Ready"][0]
    later = [c for c in node_conditions(T0 + timedelta(seconds=10), st["conditions"]) if c["type"] == "Ready"][0]
    assert (
        later["lastTransitionTime"] == ready["lastTransitionTime"]
        and later["lastHeartbeatTime"] != ready["lastHeartbeatTime"]
    )
    assert "nvidia.com/gpu" not in node_status(NodeSpec("c", 1, "1", "1Gi"), T0, None)["capacity"]
    with pytest.raises(ValueError):
        parse_taint("novalue:Sometimes")


def test_log_rendering_and_queries(tmp_path: Path):
    path = tmp_path / "0.log"
    path.write_text(
        format_line("stdout", "one\n", "2025-01-02T03:04:05.000000001Z")
        + format_line("stderr", "two", "2025-01-02T03:04:06.5Z")
        + format_line("stdout", "three", "2025-01-02T03:04:07Z")
    )

    def read(q: LogQuery) -> str:
        return b"".join(read_log(path, q, lambda: False)).decode()

    assert read(LogQuery()) == "one\ntwo\nthree\n"
    assert read(LogQuery(tail_lines=2)) == "two\nthree\n"
    assert read(LogQuery(limit_bytes=6)) == "one\ntw"
    assert read(LogQuery(timestamps=True, tail_lines=1)) == "2025-01-02T03:04:07Z three\n"
    q = parse_query("sinceTime=2025-01-02T03:04:06Z&follow=true&tailLines=5", T0)
    assert q.follow and q.tail_lines == 5 and q.since == datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC)
    assert render(format_line("stdout", "old", "2025-01-02T03:04:05Z"), q) is None
    assert parse_query("sinceSeconds=10", T0).since == T0 - timedelta(seconds=10)


def test_log_follow_stops_when_container_ends(tmp_path: Path):
    path = tmp_path / "0.log"
    path.write_text(format_line("stdout", "first"))
    state = {"polls": 0}

    def running() -> bool:
        state["polls"] += 1
        if state["polls"] == 2:
            with open(path, "a") as fh:
                fh.write(format_line("stdout", "second"))
        return state["polls"] < 4

    out = b"".join(read_log(path, LogQuery(follow=True), running, poll=0.01)).decode()
    assert out == "first\nsecond\n"


def test_mounts_for_volume_mounts_subpaths_and_termination_file(tmp_path: Path):
    pod = {"spec": {"volumes": [{"name": "work", "emptyDir": {}}, {"name": "creds", "secret": {"secretName": "s"}}]}}
    container = {
        "volumeMounts": [
            {"name": "work", "mountPath": "/work"},
            {"name": "work", "mountPath": "/cache", "subPath": "c/$(X)"},
            {"name": "creds", "mountPath": "/creds"},
        ],
        "terminationMessagePath": "/tmp/msg",
    }
    paths = {"work": str(tmp_path / "w"), "creds": str(tmp_path / "s")}
    (tmp_path / "w").mkdir()
    mounts = mounts_for(container, paths, pod, str(tmp_path / "term"), {"X": "y"})
    assert [(m.target, m.read_only) for m in mounts] == [
        ("/work", False),
        ("/cache", False),
        ("/creds", True),
        ("/tmp/msg", False),
    ]
    assert mounts[1].source == str(tmp_path / "w" / "c" / "$(X)")
    bad = {"volumeMounts": [{"name": "work", "mountPath": "/x", "subPath": "../../etc"}]}
    with pytest.raises(ConfigError):
        mounts_for(bad, paths, pod, "t", {})


def test_image_map_and_base_env(tmp_path: Path):
    mapping = tmp_path / "images.yaml"
    mapping.write_text("ghcr.io/acme/: /opt/acme/bin\nghcr.io/acme/gpu: {bin: /opt/gpu/bin, env: {CUDA: '1'}}\n")
    images = load_image_map(str(mapping))
    assert image_entry("ghcr.io/acme/gpu-stage:1", images).bin_dir == "/opt/gpu/bin"
    assert image_entry("ghcr.io/acme/cpu:1", images).bin_dir == "/opt/acme/bin"
    assert image_entry("busybox", images).bin_dir.endswith("bin")
    assert load_image_map('{"x": "/b"}')["x"] == ImageEntry("/b")
    env = base_env(images["ghcr.io/acme/gpu"], "pod-a", {"PATH": "/usr/bin", "HOME": "/root", "SECRET": "no"})
    assert env == {"PATH": "/opt/gpu/bin:/usr/bin", "HOME": "/root", "HOSTNAME": "pod-a", "CUDA": "1"}


def test_executable_by_finds_the_first_closed_directory(tmp_path: Path):
    closed = tmp_path / "closed"
    (closed / "bin").mkdir(parents=True)
    exe = closed / "bin" / "tool"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    closed.chmod(0o700)
    tmp_path.chmod(0o755)
    assert executable_by(str(exe), 0, 0, []) == ""
    blocked = executable_by(str(exe), 12345, 12345, [])
    assert blocked and Path(blocked) in (closed, *closed.parents)
    closed.chmod(0o755)
    exe.chmod(0o700)
    blocked = executable_by(str(exe), 12345, 12345, [])
    assert blocked and blocked != str(closed)


def test_containers_get_the_kubernetes_service_env_pointing_at_the_real_apiserver() -> None:
    from devcluster.kubelet_runtime import ImageEntry, base_env

    env = base_env(ImageEntry(bin_dir="/opt/venv/bin"), "p", {"PATH": "/usr/bin"}, "https://127.0.0.1:16443")
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "16443"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_a_console_script_is_only_executable_if_its_interpreter_is() -> None:
    import shutil
    import tempfile
    from pathlib import Path

    from devcluster.kubelet_runtime import executable_by, script_interpreter

    tmp_path = Path(tempfile.mkdtemp(prefix="devkubelet-perm-"))  # pytest's own tmp dirs are 0700
    tmp_path.chmod(0o755)
    try:
        _check_console_script(tmp_path, executable_by, script_interpreter)
    finally:
        shutil.rmtree(tmp_path)


def _check_console_script(tmp_path, executable_by, script_interpreter) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    interpreter = hidden / "python"
    interpreter.write_text("")
    interpreter.chmod(0o755)
    script = tmp_path / "tool"
    script.write_text(f"#!{interpreter}\nprint('hi')\n")
    script.chmod(0o755)
    assert script_interpreter(str(script)) == str(interpreter)
    assert executable_by(str(script), 10001, 10001, []) == str(hidden)
    hidden.chmod(0o755)
    assert executable_by(str(script), 10001, 10001, []) == ""
