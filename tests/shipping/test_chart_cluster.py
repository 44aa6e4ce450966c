"""The Helm chart against a real API server: server-side dry runs, an install, and RBAC checks.

Runs against the local development cluster, or the cluster in DUBBING_KUBECONFIG (kind in CI).
The ServiceMonitor kind is not installed in the local cluster (no Prometheus Operator CRDs), so
that one document is checked by parsing only (tests/shipping/test_chart_render.py::test_service_monitor).
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.shipping.conftest import CHART, VALUE_SETS, values_args

pytestmark = pytest.mark.cluster

DRY_RUN_SETS = [v for v in VALUE_SETS if v != "namespaced"] + ["namespaced-here"]


@pytest.mark.parametrize("value_set", DRY_RUN_SETS)
def test_rendered_manifests_pass_server_side_dry_run(helm, kube, namespace, dubbingjob_crd, value_set):
    if value_set == "namespaced-here":
        # Roles for watched namespaces: point them at the test namespace, which exists.
        args = ["--set", f"operator.watchNamespace={namespace}", "--set", f"webui.jobsNamespace={namespace}"]
    else:
        args = values_args(value_set)
    rendered = helm.run("template", f"dry-{value_set}", str(CHART), "--namespace", namespace, *args).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    checked = [d for d in docs if d["kind"] != "ServiceMonitor"]
    skipped = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert len(skipped) == (1 if value_set == "servicemonitor" else 0)
    proc = kube.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-o", "name", "-f", "-", input=yaml.safe_dump_all(checked)
    )
    names = proc.stdout.split()
    assert len(names) == len(checked), proc.stdout
    # A DubbingJob is accepted next to the chart's objects (the CRD is served).
    example = yaml.safe_load((CHART.parents[1] / "examples" / "dubbingjob.yaml").read_text())
    kube.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=yaml.safe_dump(example))


def test_notes_tell_how_to_open_the_ui_and_submit_a_job(helm, kube):
    # A client-side dry run renders NOTES.txt; helm still asks the cluster for its version.
    out = helm.run(
        "install", "dubbing", str(CHART), "--namespace", "media", "--dry-run=client", kubeconfig=kube.kubeconfig
    ).stdout
    notes = out[out.index("NOTES:") :]
    assert "kubectl --namespace media port-forward svc/dubbing-webui 8080:80" in notes
    assert "get secret dubbing-webui-admin" in notes
    assert "kind: DubbingJob" in notes and "kubectl --namespace media get dj -w" in notes
    ingress = helm.run(
        "install", "dubbing", str(CHART), "--dry-run=client", *values_args("ingress"), kubeconfig=kube.kubeconfig
    ).stdout
    assert "https://dub.example.org/" in ingress[ingress.index("NOTES:") :]
    pulling = helm.run(
        "install", "dubbing", str(CHART), "--dry-run=client", "--set", "modelPull.models={whisper-base,xtts-v2}",
        kubeconfig=kube.kubeconfig,
    ).stdout  # fmt: skip
    notes = pulling[pulling.index("NOTES:") :]
    assert "admins can pull catalogue models there" in notes and "A Job is pulling: whisper-base, xtts-v2." in notes
    shared = helm.run(
        "install", "dubbing", str(CHART), "--dry-run=client", *values_args("replicas"), kubeconfig=kube.kubeconfig
    ).stdout
    assert (
        "The web UI's 3 replica(s) share the bundled PostgreSQL (dubbing-postgres)" in shared[shared.index("NOTES:") :]
    )


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = predicate()
        if ok:
            return last
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}; last state: {last}")


@pytest.fixture
def installed(helm, kube, namespace, dubbingjob_crd, tmp_path):
    """The chart installed with default values, except what the local cluster cannot offer.

    The local cluster has no volume provisioner, so the web UI's store and the model cache use
    emptyDir/hostPath, and MinIO/Redis are external (the bundled ones run container images
    that only exist in real clusters; their manifests are covered by the dry runs above).
    """
    release = f"rel-{namespace[2:]}"
    models = tmp_path / "models"
    models.mkdir()
    models.chmod(0o755)
    args = [
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--set",
        "minio.mode=external",
        "--set",
        "minio.external.endpoint=http://127.0.0.1:9000",
        "--set",
        "minio.auth.secretKey=test-secret-key",
        "--set",
        "redis.mode=external",
        "--set",
        "redis.external.url=redis://127.0.0.1:6379/0",
        "--set",
        "webui.persistence.enabled=false",
        "--set",
        f"modelCache.hostPath={models}",
        "--set",
        "ntfy.url=http://127.0.0.1:8090",
        "--set",
        "ntfy.token=tk-test",
        "--set",
        "image.pullPolicy=Never",
    ]
    proc = helm.run(*args, kubeconfig=kube.kubeconfig, timeout=300)
    try:
        yield release, proc.stdout
    finally:
        helm.run("uninstall", release, "--namespace", namespace, "--wait", kubeconfig=kube.kubeconfig, check=False)


def test_install_creates_and_schedules_pods(kube, namespace, installed):
    release, notes = installed
    assert "STATUS: deployed" in notes and "port-forward" in notes
    fullname = f"{release}-dubbing"
    for component in ("operator", "webui"):
        deploy = json.loads(
            kube.kubectl("get", "deployment", f"{fullname}-{component}", "-n", namespace, "-o", "json").stdout
        )
        assert deploy["spec"]["template"]["spec"]["serviceAccountName"] == f"{fullname}-{component}"

        def scheduled(component=component):
            pods = json.loads(
                kube.kubectl(
                    "get",
                    "pods",
                    "-n",
                    namespace,
                    "-l",
                    f"app.kubernetes.io/instance={release},app.kubernetes.io/component={component}",
                    "-o",
                    "json",
                ).stdout
            )["items"]
            state = [
                (
                    p["metadata"]["name"],
                    p["spec"].get("nodeName"),
                    p["status"].get("phase"),
                    p["status"].get("containerStatuses"),
                )
                for p in pods
            ]
            return bool(pods) and all(p["spec"].get("nodeName") for p in pods), state

        state = _wait(scheduled, 90, f"{component} Pod scheduled")
        name, node, phase, statuses = state[0]
        # The operator and web UI are CPU workloads: they must not land on (or hold) the GPU node.
        pod = json.loads(kube.kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)
        requests = pod["spec"]["containers"][0]["resources"].get("requests", {})
        assert "nvidia.com/gpu" not in requests
        # The kubelet has picked the Pod up: it reports a phase and container state.
        _wait(
            lambda name=name, phase=phase: (
                bool(
                    json.loads(kube.kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)["status"].get(
                        "containerStatuses"
                    )
                ),
                phase,
            ),
            90,
            f"{component} container status",
        )
    secret = json.loads(kube.kubectl("get", "secret", f"{fullname}-ntfy", "-n", namespace, "-o", "json").stdout)
    assert set(secret["data"]) == {"token"}


def _can(kube, sa_ns, sa, verb, resource, namespace=None, subresource=None, all_namespaces=False):
    args = ["auth", "can-i", verb, resource, f"--as=system:serviceaccount:{sa_ns}:{sa}", "--quiet"]
    if subresource:
        args.append(f"--subresource={subresource}")
    if all_namespaces:
        args.append("--all-namespaces")
    elif namespace:
        args += ["-n", namespace]
    proc = kube.kubectl(*args, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


def test_service_account_permissions(kube, namespace, installed):
    release, _ = installed
    fullname = f"{release}-dubbing"
    op, ui = f"{fullname}-operator", f"{fullname}-webui"
    ns = namespace
    other = "default"

    allowed_operator = [
        ("create", "pods", ns, None),
        ("delete", "pods", ns, None),
        ("watch", "pods", ns, None),
        ("get", "pods", ns, "log"),
        ("patch", "dubbingjobs.dubbing.dev", ns, "status"),
        ("update", "dubbingjobs.dubbing.dev", ns, "finalizers"),
        ("patch", "dubbingjobs.dubbing.dev", ns, None),
        ("create", "events", ns, None),
        ("patch", "events", ns, None),
        ("list", "nodes", None, None),
        ("watch", "nodes", None, None),
        ("create", "secrets", ns, None),  # each job's scoped object store keys
        ("update", "secrets", ns, None),
        ("get", f"leases.coordination.k8s.io/{op}", ns, None),
        ("update", f"leases.coordination.k8s.io/{op}", ns, None),
        ("create", "leases.coordination.k8s.io", ns, None),
    ]
    denied_operator = [
        ("create", "pods", ns, "exec"),
        ("get", "pods", ns, "exec"),
        ("create", "pods", ns, "attach"),
        ("delete", "nodes", None, None),
        ("patch", "nodes", None, None),
        ("create", "dubbingjobs.dubbing.dev", ns, None),
        ("delete", "dubbingjobs.dubbing.dev", ns, None),
        ("create", "deployments.apps", ns, None),
        ("create", "rolebindings.rbac.authorization.k8s.io", ns, None),
        ("get", "secrets/other-secret", ns, None),
        ("get", f"secrets/{fullname}-s3", ns, None),  # it never reads a Secret, its own keys come as env
        ("create", "pods", other, None),  # the jobs namespace only, by default
        ("watch", "dubbingjobs.dubbing.dev", other, None),
        ("create", "secrets", other, None),
        ("get", f"secrets/{fullname}-s3", other, None),
        ("list", "secrets", ns, None),
        ("get", f"secrets/{fullname}-webui-admin", ns, None),
        ("update", "leases.coordination.k8s.io/kube-scheduler", ns, None),
        ("delete", f"leases.coordination.k8s.io/{op}", ns, None),
        ("update", f"leases.coordination.k8s.io/{op}", other, None),
        ("update", "leases.coordination.k8s.io", "kube-system", None),
    ]
    for verb, resource, where, sub in allowed_operator:
        assert _can(kube, ns, op, verb, resource, where, sub), (
            f"operator should be able to {verb} {resource} {sub or ''} in {where}"
        )
    for verb, resource, where, sub in denied_operator:
        assert not _can(kube, ns, op, verb, resource, where, sub), (
            f"operator must not {verb} {resource} {sub or ''} in {where}"
        )
    assert not _can(kube, ns, op, "list", "secrets", all_namespaces=True), "operator must not list secrets cluster-wide"
    assert not _can(kube, ns, op, "get", "secrets", all_namespaces=True)

    allowed_webui = [
        ("create", "dubbingjobs.dubbing.dev", ns, None),
        ("get", "dubbingjobs.dubbing.dev", ns, None),
        ("list", "dubbingjobs.dubbing.dev", ns, None),
        ("watch", "dubbingjobs.dubbing.dev", ns, None),
        ("patch", "dubbingjobs.dubbing.dev", ns, None),
        ("get", "pods", ns, "log"),
        ("list", "pods", ns, None),
        ("list", "nodes", None, None),
    ]
    denied_webui = [
        ("delete", "dubbingjobs.dubbing.dev", ns, None),
        ("patch", "dubbingjobs.dubbing.dev", ns, "status"),
        ("create", "dubbingjobs.dubbing.dev", other, None),
        ("create", "pods", ns, None),
        ("delete", "pods", ns, None),
        ("create", "pods", ns, "exec"),
        ("get", "secrets", ns, None),
        ("list", "secrets", ns, None),
        ("delete", "nodes", None, None),
        ("create", "events", ns, None),
    ]
    for verb, resource, where, sub in allowed_webui:
        assert _can(kube, ns, ui, verb, resource, where, sub), (
            f"webui should be able to {verb} {resource} {sub or ''} in {where}"
        )
    for verb, resource, where, sub in denied_webui:
        assert not _can(kube, ns, ui, verb, resource, where, sub), (
            f"webui must not {verb} {resource} {sub or ''} in {where}"
        )
    assert not _can(kube, ns, ui, "list", "secrets", all_namespaces=True)
