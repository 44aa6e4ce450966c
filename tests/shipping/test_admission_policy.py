"""The chart's ValidatingAdmissionPolicy against the real API server: who may create which DubbingJob.

Users are impersonated (``kubectl --as``) with the admin kubeconfig; each is given only the right to
create DubbingJobs in the namespace, so every refusal seen here comes from the policy.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import CHART

pytestmark = [pytest.mark.cluster]
BUCKET = "dubbing"


@pytest.fixture
def policy(helm, kube, namespace, dubbingjob_crd):
    """The chart's policy for a release in ``namespace`` (bound to that namespace only), removed afterwards."""
    release = f"adm-{namespace}"
    rendered = helm.run(
        "template", release, str(CHART), "--namespace", namespace,
        "--set", f"webui.jobsNamespace={namespace}", "--set", f"minio.bucket={BUCKET}",
        "--set", "admissionPolicy.trustedUsers={system:serviceaccount:ci:robot}",
        "--show-only", "templates/admission/validatingadmissionpolicy.yaml",
    ).stdout  # fmt: skip
    kube.kubectl("apply", "-f", "-", input=rendered)
    rbac = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "job-author", "namespace": namespace},
                "rules": [
                    {
                        "apiGroups": ["dubbing.dev"],
                        "resources": ["dubbingjobs"],
                        "verbs": ["create", "update", "patch", "get"],
                    }
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "job-author", "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "job-author"},
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
                    {"kind": "ServiceAccount", "name": f"{release}-dubbing-webui", "namespace": namespace},
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:serviceaccount:ci:robot"},
                ],
            },
        ],
    }
    kube.kubectl("apply", "-f", "-", input=json.dumps(rbac))
    try:
        _wait_until_enforced(kube, namespace, release)
        yield release
    finally:
        kube.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", f"{release}-dubbing-jobs",
                     "--ignore-not-found", "--wait=false", check=False)  # fmt: skip


def _job(name: str, owner: str | None, **spec) -> dict:
    body = {
        "apiVersion": "dubbing.dev/v1alpha1",
        "kind": "DubbingJob",
        "metadata": {"name": name, "labels": {"dubbing.dev/owner": owner} if owner else {}},
        "spec": {"input": {"bucket": BUCKET, "key": f"uploads/{owner}/1/in.mp4"}, "targetLanguages": ["es"], **spec},
    }
    return body


def _create(kube, namespace: str, user: str, job: dict) -> subprocess.CompletedProcess:
    return kube.kubectl("create", "-n", namespace, f"--as={user}", "-f", "-", input=json.dumps(job), check=False)


def _wait_until_enforced(kube, namespace: str, release: str) -> None:
    """A new policy takes a moment to load: wait until it refuses an ownerless job."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        proc = kube.kubectl(
            "create", "--dry-run=server", "-n", namespace, "-f", "-", input=json.dumps(_job("probe", None)), check=False
        )
        if proc.returncode != 0 and "dubbing.dev/owner" in proc.stderr:
            return
        time.sleep(0.5)
    raise AssertionError(f"the policy {release}-dubbing-jobs was not enforced within 30 s")


def test_a_user_creates_jobs_only_for_themself_the_web_ui_for_anyone(kube, namespace, policy):
    ok = _create(kube, namespace, "alice", _job("alices", "alice"))
    assert ok.returncode == 0, ok.stderr
    refused = _create(kube, namespace, "alice", _job("for-bob", "bob"))
    assert refused.returncode != 0
    assert "dubbing.dev/owner must be your own user name (alice)" in refused.stderr
    webui = f"system:serviceaccount:{namespace}:{policy}-dubbing-webui"
    assert _create(kube, namespace, webui, _job("bobs", "bob")).returncode == 0
    assert _create(kube, namespace, "system:serviceaccount:ci:robot", _job("robots", "carol")).returncode == 0
    ownerless = _create(kube, namespace, "alice", _job("nobodys", None))
    assert ownerless.returncode != 0 and "needs the label dubbing.dev/owner" in ownerless.stderr


def test_the_owner_of_a_job_cannot_change(kube, namespace, policy):
    assert _create(kube, namespace, "alice", _job("mine", "alice")).returncode == 0
    proc = kube.kubectl(
        "label", "dj", "mine", "-n", namespace, "--overwrite", "dubbing.dev/owner=bob", "--as=alice", check=False
    )
    assert proc.returncode != 0 and "cannot change" in proc.stderr


def test_inputs_and_outputs_stay_inside_the_owners_prefixes(kube, namespace, policy):
    webui = f"system:serviceaccount:{namespace}:{policy}-dubbing-webui"
    cases = {
        "bobs-input": (
            _job("a1", "alice", input={"bucket": BUCKET, "key": "uploads/bob/7/secret.mp4"}),
            "key under uploads/alice/",
        ),
        "other-bucket": (
            _job("a2", "alice", input={"bucket": "other", "key": "uploads/alice/1/in.mp4"}),
            "bucket dubbing",
        ),
        "dot-dot": (_job("a3", "alice", input={"bucket": BUCKET, "key": "uploads/alice2/x.mp4"}), "uploads/alice/"),
        "url": (_job("a4", "alice", input={"url": "http://127.0.0.1:9/x.mp4"}), "URL inputs"),
        "output-prefix": (_job("a5", "alice", output={"prefix": "jobs/ns/bobs-job/outputs"}), "under outputs/alice/"),
        "output-bucket": (_job("a6", "alice", output={"bucket": "elsewhere"}), "stay in the bucket dubbing"),
    }
    for case, (job, message) in cases.items():
        for user in ("alice", webui):  # the web UI is held to the owner's prefixes too
            proc = _create(kube, namespace, user, job)
            assert proc.returncode != 0 and message in proc.stderr, (case, user, proc.stderr)
    fine = _job("a7", "alice", output={"prefix": "outputs/alice/season-1"})
    assert _create(kube, namespace, "alice", fine).returncode == 0


def test_placement_cannot_leave_the_operators_pools(kube, namespace, policy):
    gpu_taint = _job("p1", "alice", placement={"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]})
    everything = _job("p2", "alice", placement={"tolerations": [{"operator": "Exists"}]})
    dead_nodes = _job(
        "p3", "alice", placement={"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}]}
    )
    for job in (gpu_taint, everything, dead_nodes):
        proc = _create(kube, namespace, "alice", job)
        assert proc.returncode != 0 and "spec.placement.tolerations" in proc.stderr, proc.stderr
    narrowing = _job("p4", "alice", placement={"nodeSelector": {"topology.kubernetes.io/zone": "a"}})
    assert _create(kube, namespace, "alice", narrowing).returncode == 0
