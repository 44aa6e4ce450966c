"""The Helm chart without a cluster: lint, render for several value sets, and schema refusals."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.shipping.conftest import CHART, VALUE_SETS, values_args


def _kinds(docs):
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


def _by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def _deployment(docs, component):
    found = [
        d for d in _by_kind(docs, "Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    assert len(found) == 1, f"expected one {component} Deployment, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def _env(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_default_values_match_schema():
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(values), key=str)
    assert not errors, "\n".join(e.message for e in errors)
    # Every key in values.yaml is described by the schema (additionalProperties: false at the top).
    assert set(values) == set(schema["properties"])


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_lint(helm, value_set):
    proc = helm.run("lint", str(CHART), "--strict", *values_args(value_set))
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


def test_default_render(helm):
    docs = helm.template()
    kinds = _kinds(docs)
    for expected in [
        ("Deployment", "dubbing-operator"),
        ("Deployment", "dubbing-webui"),
        ("Deployment", "dubbing-minio"),
        ("Deployment", "dubbing-redis"),
        ("Service", "dubbing-webui"),
        ("Service", "dubbing-operator-metrics"),
        ("ServiceAccount", "dubbing-operator"),
        ("ServiceAccount", "dubbing-webui"),
        ("ClusterRole", "dubbing-operator-cluster"),
        ("ClusterRoleBinding", "dubbing-operator-cluster"),
        ("Role", "dubbing-operator-jobs"),
        ("Role", "dubbing-webui-jobs"),
        ("ValidatingAdmissionPolicy", "dubbing-jobs"),
        ("ValidatingAdmissionPolicyBinding", "dubbing-jobs"),
        ("NetworkPolicy", "dubbing-stages"),
        ("NetworkPolicy", "dubbing-redis"),
        ("NetworkPolicy", "dubbing-minio"),
        ("Secret", "dubbing-redis"),
        ("ClusterRole", "dubbing-webui-nodes"),
        ("PersistentVolumeClaim", "dubbing-models"),
        ("PersistentVolumeClaim", "dubbing-webui-data"),
        ("PersistentVolumeClaim", "dubbing-minio"),
        ("Secret", "dubbing-s3"),
        ("Secret", "dubbing-webui-admin"),
    ]:
        assert expected in kinds, f"{expected} not rendered; got {sorted(kinds)}"
    assert not _by_kind(docs, "Ingress") and not _by_kind(docs, "ServiceMonitor")
    assert not _by_kind(docs, "CustomResourceDefinition"), "the CRD belongs in crds/, not templates/"
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "dubbing"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/name"] == "dubbing"

    operator = _deployment(docs, "operator")["spec"]["template"]["spec"]["containers"][0]
    env = _env(operator)
    assert env["DUBBING_S3_ENDPOINT"] == "dubbing-minio.dubbing.svc:9000" and env["DUBBING_S3_SECURE"] == "false"
    assert env["DUBBING_ARTIFACTS_URL"] == "s3://dubbing" and env["DUBBING_S3_SECRET_NAME"] == "dubbing-s3"
    # the bundled Redis wants its password; the kubelet expands it from the entry before
    assert env["DUBBING_REDIS_URL"] == "redis://:$(DUBBING_REDIS_PASSWORD)@dubbing-redis.dubbing.svc:6379/0"
    names = [e["name"] for e in operator["env"]]
    assert names.index("DUBBING_REDIS_PASSWORD") < names.index("DUBBING_REDIS_URL")
    assert env["DUBBING_REDIS_PASSWORD"] == {"secretKeyRef": {"name": "dubbing-redis", "key": "password"}}
    # the operator mints each job's scoped keys with its own; stage Pods never see these
    assert env["DUBBING_S3_SCOPED_CREDENTIALS"] == "true"
    assert env["DUBBING_S3_SECRET_KEY"] == {"secretKeyRef": {"name": "dubbing-s3", "key": "secretKey"}}
    assert env["DUBBING_MODEL_CACHE_PVC"] == "dubbing-models" and env["DUBBING_MODEL_CACHE_MOUNT"] == "/models"
    assert env["DUBBING_STAGE_IMAGE"] == "ghcr.io/dubbing-dev/dubbing-stage-cpu:0.1.0"
    assert env["DUBBING_STAGE_GPU_IMAGE"] == "ghcr.io/dubbing-dev/dubbing-stage-gpu:0.1.0"
    assert env["DUBBING_GPU_RESOURCE"] == "nvidia.com/gpu"
    assert env["DUBBING_STAGE_GPUS"] == "separate=1,diarize=1,asr=1,tts=1"
    assert json.loads(env["DUBBING_GPU_TOLERATIONS"]) == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert "DUBBING_NTFY_TOKEN" not in env, "no token configured, no token env"
    assert operator["image"] == "ghcr.io/dubbing-dev/dubbing-operator:0.1.0"
    assert operator["args"] == ["--namespace", "dubbing"], "watches the jobs namespace unless told otherwise"
    webui = _deployment(docs, "webui")["spec"]["template"]["spec"]["containers"][0]
    wenv = _env(webui)
    assert wenv["DUBBING_S3_ENDPOINT"] == "http://dubbing-minio.dubbing.svc:9000"
    assert wenv["DUBBING_S3_SECRET_KEY"] == {"secretKeyRef": {"name": "dubbing-s3", "key": "secretKey"}}
    assert wenv["DUBBING_JOBS_NAMESPACE"] == "dubbing" and wenv["DUBBING_DATA_DIR"] == "/data"
    assert wenv["DUBBING_ADMIN_PASSWORD"] == {"secretKeyRef": {"name": "dubbing-webui-admin", "key": "password"}}


def test_workloads_are_locked_down(helm):
    docs = helm.template()
    deployments = _by_kind(docs, "Deployment")
    assert len(deployments) == 4
    for dep in deployments:
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert isinstance(pod["securityContext"]["runAsUser"], int) and pod["securityContext"]["runAsUser"] > 0, name
        assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in c["volumeMounts"]), name
            assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"], name
            assert "livenessProbe" in c and "readinessProbe" in c, name
        if name in ("dubbing-operator", "dubbing-webui"):
            annotations = dep["spec"]["template"]["metadata"]["annotations"]
            assert len(annotations["checksum/config"]) == 64 and len(annotations["checksum/secrets"]) == 64


def test_config_change_rolls_the_pods(helm):
    def checksum(*args):
        docs = helm.template(*args)
        return _deployment(docs, "operator")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum() == checksum()
    assert checksum() != checksum("--set", "gpu.count=2")


def _rules(docs):
    for doc in docs:
        if doc["kind"] in ("Role", "ClusterRole"):
            for rule in doc.get("rules", []):
                yield doc, rule


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_rbac_least_privilege(helm, value_set):
    docs = helm.template(*values_args(value_set))
    for doc, rule in _rules(docs):
        where = f"{doc['kind']} {doc['metadata']['name']}"
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule.get("apiGroups", []), where
        assert "pods/exec" not in rule["resources"] and "pods/attach" not in rule["resources"], where
        assert "escalate" not in rule["verbs"] and "impersonate" not in rule["verbs"], where
        if "secrets" in rule["resources"]:
            assert doc["kind"] == "Role", f"{where}: secrets must never be granted cluster-wide"
            assert not {"get", "list", "watch"} & set(rule["verbs"]), f"{where}: nobody reads Secrets"
        if "nodes" in rule["resources"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}, where


def test_namespaced_operator_gets_roles_not_cluster_rights(helm):
    docs = helm.template(*values_args("namespaced"))
    cluster = next(
        d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "dubbing-operator-cluster"
    )
    assert all("pods" not in r["resources"] and "dubbingjobs" not in r["resources"] for r in cluster["rules"])
    roles = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in _by_kind(docs, "Role")}
    assert {("team-a", "dubbing-operator-jobs"), ("team-a", "dubbing-webui-jobs")} <= roles
    operator = _deployment(docs, "operator")["spec"]["template"]["spec"]["containers"][0]
    assert operator["args"] == ["--namespace", "team-a"]


def test_leader_election_lets_the_operator_run_several_replicas(helm):
    docs = helm.template("--set", "operator.replicas=2")
    deploy = _deployment(docs, "operator")
    assert deploy["spec"]["replicas"] == 2 and deploy["spec"]["strategy"]["type"] == "RollingUpdate"
    env = _env(deploy["spec"]["template"]["spec"]["containers"][0])
    assert env["DUBBING_LEADER_ELECTION_NAMESPACE"] == deploy["metadata"]["namespace"]
    assert env["DUBBING_LEADER_ELECTION_LEASE"] == "dubbing-operator"
    assert (env["DUBBING_LEASE_DURATION_SECONDS"], env["DUBBING_LEASE_RENEW_DEADLINE_SECONDS"]) == ("15", "10")
    role = next(d for d in _by_kind(docs, "Role") if d["metadata"]["name"] == "dubbing-operator-leader")
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert named == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "update"],
                      "resourceNames": ["dubbing-operator"]}]  # fmt: skip
    assert [r["verbs"] for r in role["rules"] if not r.get("resourceNames")] == [["create"]]

    off = helm.template("--set", "operator.leaderElection.enabled=false")
    deploy = _deployment(off, "operator")
    assert deploy["spec"]["strategy"]["type"] == "Recreate"
    assert "DUBBING_LEADER_ELECTION_NAMESPACE" not in _env(deploy["spec"]["template"]["spec"]["containers"][0])
    assert not [d for d in _by_kind(off, "Role") if d["metadata"]["name"] == "dubbing-operator-leader"]


def test_a_renew_deadline_not_shorter_than_the_lease_is_refused(helm):
    proc = helm.run(
        "template", "dubbing", str(CHART), "--set", "operator.leaderElection.renewDeadlineSeconds=15", check=False
    )
    assert proc.returncode != 0
    assert "renewDeadlineSeconds must be shorter than leaseDurationSeconds" in proc.stderr, proc.stderr


def test_web_ui_replicas_share_a_bundled_postgres(helm):
    docs = helm.template("--set", "webui.replicas=3", "--set", "webui.database.mode=bundled")
    deploy = _deployment(docs, "webui")
    assert deploy["spec"]["replicas"] == 3 and "strategy" not in deploy["spec"]  # rolling, no shared volume
    pod = deploy["spec"]["template"]["spec"]
    env = _env(pod["containers"][0])
    assert env["DUBBING_POSTGRES_PASSWORD"] == {"secretKeyRef": {"name": "dubbing-postgres", "key": "password"}}
    assert (
        env["DUBBING_DATABASE_URL"] == "postgresql://dubbing:$(DUBBING_POSTGRES_PASSWORD)@dubbing-postgres:5432/dubbing"
    )
    names = [e["name"] for e in pod["containers"][0]["env"]]
    assert names.index("DUBBING_POSTGRES_PASSWORD") < names.index("DUBBING_DATABASE_URL")  # the kubelet expands it
    assert next(v for v in pod["volumes"] if v["name"] == "data") == {"name": "data", "emptyDir": {}}
    assert not [d for d in _by_kind(docs, "PersistentVolumeClaim") if d["metadata"]["name"] == "dubbing-webui-data"]
    (sts,) = _by_kind(docs, "StatefulSet")
    assert sts["metadata"]["name"] == "dubbing-postgres" and sts["spec"]["replicas"] == 1
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert (
        container["image"].startswith("docker.io/library/postgres:")
        and container["securityContext"]["readOnlyRootFilesystem"]
    )
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/var/lib/postgresql/data", "/var/run/postgresql"}
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    secret = next(d for d in _by_kind(docs, "Secret") if d["metadata"]["name"] == "dubbing-postgres")
    assert len(secret["data"]["password"]) > 40
    policy = _policy(docs, "dubbing-postgres")
    assert policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert [
        p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in policy["spec"]["ingress"][0]["from"]
    ] == ["webui"]


def test_web_ui_replicas_on_an_external_postgres(helm):
    docs = helm.template(
        "--set", "webui.replicas=2", "--set", "webui.database.mode=external",
        "--set", "webui.database.external.existingSecret=webui-db", "--set", "webui.database.external.urlKey=dsn",
    )  # fmt: skip
    env = _env(_deployment(docs, "webui")["spec"]["template"]["spec"]["containers"][0])
    assert env["DUBBING_DATABASE_URL"] == {"secretKeyRef": {"name": "webui-db", "key": "dsn"}}
    assert "DUBBING_POSTGRES_PASSWORD" not in env
    assert not _by_kind(docs, "StatefulSet")
    sqlite = _env(_deployment(helm.template(), "webui")["spec"]["template"]["spec"]["containers"][0])
    assert "DUBBING_DATABASE_URL" not in sqlite  # the default: SQLite in /data


def test_web_ui_replicas_on_sqlite_are_refused_even_without_the_schema(helm):
    proc = helm.run(
        "template", "dubbing", str(CHART), "--set", "webui.replicas=2", "--skip-schema-validation", check=False
    )
    assert proc.returncode != 0
    assert "webui.replicas > 1 needs a PostgreSQL store" in proc.stderr, proc.stderr


def test_external_services(helm):
    docs = helm.template(*values_args("external"))
    components = {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in _by_kind(docs, "Deployment")}
    assert components == {"operator", "webui"}, "no bundled MinIO/Redis when external"
    assert not [d for d in _by_kind(docs, "Secret") if d["metadata"]["name"] in ("dubbing-s3", "dubbing-ntfy")]
    for component in ("operator", "webui"):
        env = _env(_deployment(docs, component)["spec"]["template"]["spec"]["containers"][0])
        if component == "webui":
            assert env["DUBBING_S3_ENDPOINT"] == "http://minio.storage.svc:9000"
            assert env["DUBBING_S3_BUCKET"] == "dubbing-uploads"
            assert env["DUBBING_S3_ACCESS_KEY"] == {"secretKeyRef": {"name": "dubbing-s3", "key": "accessKey"}}
        else:
            assert env["DUBBING_S3_ENDPOINT"] == "minio.storage.svc:9000"
            assert env["DUBBING_ARTIFACTS_URL"] == "s3://dubbing-uploads"
            assert env["DUBBING_S3_SECRET_NAME"] == "dubbing-s3"
        assert env["DUBBING_REDIS_URL"] == "redis://redis.cache.svc:6379/0"
        assert env["DUBBING_NTFY_URL"] == "https://ntfy.example.org"
        assert env["DUBBING_NTFY_TOKEN"] == {"secretKeyRef": {"name": "dubbing-ntfy", "key": "token"}}
    assert not [d for d in _by_kind(docs, "Role") if d["metadata"]["name"] == "dubbing-operator-secrets"]


def test_ntfy_token_secret_created_from_value(helm):
    docs = helm.template("--set", "ntfy.url=https://ntfy.example.org", "--set", "ntfy.token=tok")
    secret = next(d for d in _by_kind(docs, "Secret") if d["metadata"]["name"] == "dubbing-ntfy")
    assert secret["data"]["token"] == "dG9r"


def test_llm_endpoint_model_and_key_secret_reach_the_operator(helm):
    env = _env(_deployment(helm.template(), "operator")["spec"]["template"]["spec"]["containers"][0])
    assert not any(name.startswith("DUBBING_LLM_") for name in env)  # off by default
    docs = helm.template(
        "--set", "llm.endpoint=http://vllm.ai.svc:8000/v1", "--set", "llm.model=qwen2.5:7b",
        "--set", "llm.apiKeySecret=llm-key",
    )  # fmt: skip
    env = _env(_deployment(docs, "operator")["spec"]["template"]["spec"]["containers"][0])
    assert env["DUBBING_LLM_ENDPOINT"] == "http://vllm.ai.svc:8000/v1" and env["DUBBING_LLM_MODEL"] == "qwen2.5:7b"
    assert env["DUBBING_LLM_API_KEY_SECRET"] == "llm-key" and env["DUBBING_LLM_API_KEY_KEY"] == "apiKey"


def test_ingress(helm):
    docs = helm.template(*values_args("ingress"))
    (ingress,) = _by_kind(docs, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["dub.example.org"], "secretName": "dub-example-org-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "dubbing-webui", "port": {"name": "http"}}
    env = _env(_deployment(docs, "operator")["spec"]["template"]["spec"]["containers"][0])
    assert env["DUBBING_PUBLIC_BASE_URL"] == "https://dub.example.org"
    wenv = _env(_deployment(docs, "webui")["spec"]["template"]["spec"]["containers"][0])
    assert wenv["DUBBING_PUBLIC_URL"] == "https://dub.example.org" and wenv["DUBBING_COOKIE_SECURE"] == "true"


def test_service_monitor(helm):
    docs = helm.template(*values_args("servicemonitor"))
    (sm,) = _by_kind(docs, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    svc = next(d for d in _by_kind(docs, "Service") if d["metadata"]["name"] == "dubbing-operator-metrics")
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] in {p["name"] for p in svc["spec"]["ports"]}
    assert sm["spec"]["endpoints"][0]["interval"] == "15s"


def test_gpu_settings(helm):
    docs = helm.template(*values_args("gpu"))
    env = _env(_deployment(docs, "operator")["spec"]["template"]["spec"]["containers"][0])
    assert env["DUBBING_STAGE_GPUS"] == "separate=2,diarize=2,asr=2,tts=2"
    assert json.loads(env["DUBBING_STAGE_RESOURCES"])["asr"]["limits"] == {"memory": "12Gi"}
    assert json.loads(env["DUBBING_GPU_NODE_SELECTOR"]) == {"nvidia.com/gpu.present": "true"}
    assert len(json.loads(env["DUBBING_GPU_TOLERATIONS"])) == 2
    assert env["DUBBING_MODEL_CACHE_PVC"] == "dubbing-models"
    assert not [d for d in _by_kind(docs, "PersistentVolumeClaim") if d["metadata"]["name"] == "dubbing-models"], (
        "an existing claim is used, not created"
    )


# Schema refusals: (what is wrong, --set arguments or a values document, fragments the message must contain)
REFUSALS = [
    ("negative GPU count", ["--set", "gpu.count=-1"], ["gpu.count", "greater than or equal to 0"]),
    ("bad pull policy", ["--set", "image.pullPolicy=Sometimes"], ["image.pullPolicy", "must be one of"]),
    ("negative replicas", ["--set", "webui.replicas=-2"], ["webui.replicas", "greater than or equal to 0"]),
    (
        "two web UI replicas (one SQLite store)",
        ["--set", "webui.replicas=2"],
        ["webui.replicas", "less than or equal to 1"],
    ),
    (
        "external PostgreSQL without its Secret",
        ["--set", "webui.database.mode=external"],
        ["webui.database.external.existingSecret"],
    ),
    ("unknown store", ["--set", "webui.database.mode=mysql"], ["webui.database.mode", "must be one of"]),
    (
        "two operators without leader election",
        ["--set", "operator.replicas=2", "--set", "operator.leaderElection.enabled=false"],
        ["operator.replicas", "less than or equal to 1"],
    ),
    ("unknown top-level key", ["--set", "replicaCount=3"], ["replicaCount", "not allowed"]),
    ("unknown nested key", ["--set", "operator.replica=1"], ["operator", "replica", "not allowed"]),
    ("ntfy server not a URL", ["--set", "ntfy.url=ntfy.example.org"], ["ntfy.url"]),
    ("llm endpoint not a URL", ["--set", "llm.endpoint=vllm:8000"], ["llm.endpoint"]),
    (
        "bad resource quantity",
        ["--set", "operator.resources.requests.memory=lots"],
        ["operator.resources.requests.memory"],
    ),
    ("external MinIO without endpoint", ["--set", "minio.mode=external"], ["minio.external.endpoint"]),
    (
        "external Redis with an http URL",
        ["--set", "redis.mode=external", "--set", "redis.external.url=http://r:6379"],
        ["redis.external.url"],
    ),
    ("unpinned bundled image", ["--set", "minio.bundled.image.tag=latest"], ["minio.bundled.image.tag"]),
    (
        "unknown stage in resource overrides",
        ["--set", "stages.resources.transcribe.requests.cpu=1"],
        ["stages.resources"],
    ),
    ("bad GPU resource name", ["--set", "gpu.resourceName=gpu"], ["gpu.resourceName", "Does not match pattern"]),
    (
        "model not in the catalogue",
        ["--set", "modelPull.models={whisper-huge}"],
        ["modelPull.models.0", "whisper-base"],
    ),
    ("model pull endpoint not a URL", ["--set", "modelPull.endpoint=mirror:8080"], ["modelPull.endpoint"]),
    ("stage env name not a variable name", ["--set", "stages.extraEnv.LOG-LEVEL=debug"], ["stages.extraEnv"]),
]


@pytest.mark.parametrize("what,args,fragments", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_schema_refuses(helm, what, args, fragments):
    proc = helm.run("template", "dubbing", str(CHART), *args, check=False)
    assert proc.returncode != 0, f"{what}: accepted"
    message = proc.stderr
    assert "values don't meet the specifications of the schema" in message, message
    for fragment in fragments:
        assert fragment in message, f"{what}: {fragment!r} not in the message:\n{message}"
    # Readable: one short line per problem, no Go stack or template dump.
    assert len(message.splitlines()) <= 12, message


def _policy(docs, name: str) -> dict:
    return next(d for d in _by_kind(docs, "NetworkPolicy") if d["metadata"]["name"] == name)


def test_network_policies_fence_stages_redis_and_minio(helm):
    docs = helm.template()
    stages = _policy(docs, "dubbing-stages")
    assert stages["spec"]["ingress"] == [] and set(stages["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    egress = stages["spec"]["egress"]
    assert {p["port"] for p in egress[0]["ports"]} == {53} and "to" not in egress[0]  # DNS
    (minio,) = egress[1]["to"]
    assert minio["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "minio"
    assert len(egress) == 2, "nothing else: no URL inputs by default, no API server, no Redis"
    redis = _policy(docs, "dubbing-redis")
    sources = [
        f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for f in redis["spec"]["ingress"][0]["from"]
    ]
    assert sorted(sources) == ["operator", "webui"]
    assert not _by_kind(helm.template("--set", "networkPolicy.enabled=false"), "NetworkPolicy")


def test_url_inputs_open_only_public_addresses(helm):
    docs = helm.template("--set", "admissionPolicy.allowUrlInputs=true")
    url_rule = _policy(docs, "dubbing-stages")["spec"]["egress"][-1]
    block = url_rule["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"} <= set(block["except"])
    vap = next(d for d in _by_kind(docs, "ValidatingAdmissionPolicy"))
    assert not any("spec.input.url" in (v.get("message") or "") for v in vap["spec"]["validations"])
    env = _env(_deployment(docs, "operator")["spec"]["template"]["spec"]["containers"][0])
    assert json.loads(env["DUBBING_STAGE_ENV"]) == {"DUBBING_INPUT_URLS": "true"}  # the stages' own switch
    assert "DUBBING_STAGE_ENV" not in _env(
        _deployment(helm.template(), "operator")["spec"]["template"]["spec"]["containers"][0]
    )


def test_the_operator_can_watch_every_namespace_when_asked(helm):
    docs = helm.template("--set", "operator.watchAllNamespaces=true")
    operator = _deployment(docs, "operator")["spec"]["template"]["spec"]["containers"][0]
    assert operator["args"] == ["--all-namespaces"]
    binding = next(d for d in _by_kind(docs, "ValidatingAdmissionPolicyBinding"))
    assert "matchResources" not in binding["spec"]  # every namespace's jobs are this installation's


def _pull_container(pod):
    (container,) = pod["spec"]["containers"]
    return container


def test_model_pull_job_and_web_ui_template(helm):
    # Default: no install Job (no models named), but the web UI can start pulls from the template.
    docs = helm.template()
    assert not _by_kind(docs, "Job")
    (config,) = [d for d in _by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "dubbing-model-pull"]
    template = yaml.safe_load(config["data"]["job.yaml"])
    assert template["kind"] == "Job" and template["metadata"]["namespace"] == "dubbing"
    pod = template["spec"]["template"]
    container = _pull_container(pod)
    assert container["command"] == ["dubbing", "models", "pull", "--model-cache", "/models"]
    assert container["image"] == "ghcr.io/dubbing-dev/dubbing-stage-cpu:0.1.0"
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "dubbing-models"}} in pod["spec"]["volumes"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "HF_ENDPOINT" not in _env(container) and "HF_TOKEN" not in _env(container)
    # The web UI reads the cache (read-only), the template, and may create Jobs in the release namespace only.
    webui = _deployment(docs, "webui")["spec"]["template"]["spec"]
    wenv = _env(webui["containers"][0])
    assert (
        wenv["DUBBING_MODEL_CACHE"] == "/models"
        and wenv["DUBBING_MODEL_PULL_JOB"] == "/etc/dubbing/model-pull/job.yaml"
    )
    assert wenv["DUBBING_MODEL_PULL_NAMESPACE"] == "dubbing"
    mounts = {m["mountPath"]: m for m in webui["containers"][0]["volumeMounts"]}
    assert mounts["/models"]["readOnly"] is True and mounts["/etc/dubbing/model-pull"]["readOnly"] is True
    (role,) = [d for d in _by_kind(docs, "Role") if d["metadata"]["name"] == "dubbing-webui-model-pull"]
    assert role["rules"] == [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list"]}]

    # Named models: a post-install/upgrade hook Job pulls them, with the mirror and the token Secret.
    docs = helm.template(
        "--set",
        "modelPull.models={whisper-base,xtts-v2}",
        "--set",
        "modelPull.endpoint=http://hub-mirror.internal:8080",
        "--set",
        "modelPull.tokenSecret=hf-token",
        "--set",
        "modelPull.allowUnpinned=true",
        "--set",
        "modelCache.hostPath=/srv/models",
    )
    (job,) = _by_kind(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    pod = job["spec"]["template"]
    container = _pull_container(pod)
    assert container["args"] == ["whisper-base", "xtts-v2"]
    assert container["command"][-1] == "--allow-unpinned"
    env = _env(container)
    assert env["HF_ENDPOINT"] == "http://hub-mirror.internal:8080"
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "hf-token", "key": "token"}}
    assert {"name": "models", "hostPath": {"path": "/srv/models", "type": "Directory"}} in pod["spec"]["volumes"]
    assert pod["spec"]["restartPolicy"] == "Never"

    # Off: no Job, no template, no Role; the web UI still sees the cache.
    docs = helm.template("--set", "modelPull.enabled=false", "--set", "modelPull.models={whisper-base}")
    assert not _by_kind(docs, "Job")
    assert not [d for d in docs if "model-pull" in d["metadata"]["name"]]
    assert "DUBBING_MODEL_PULL_JOB" not in _env(_deployment(docs, "webui")["spec"]["template"]["spec"]["containers"][0])


def test_direct_uploads_are_allowed_from_the_web_ui_origin_only(helm):
    """The bundled MinIO takes the upload page's part PUTs from the web UI's origin (CORS), and
    the web UI is told how to send parts (webui.uploadTransfer)."""
    docs = helm.template(
        "--set", "webui.publicUrl=https://dub.example.com/app", "--set", "minio.publicUrl=https://media.example.com",
        "--set", "webui.uploadTransfer=direct",
    )  # fmt: skip
    minio_env = _env(_deployment(docs, "minio")["spec"]["template"]["spec"]["containers"][0])
    assert minio_env["MINIO_API_CORS_ALLOW_ORIGIN"] == "https://dub.example.com"
    webui_env = _env(_deployment(docs, "webui")["spec"]["template"]["spec"]["containers"][0])
    assert webui_env["DUBBING_UPLOAD_TRANSFER"] == "direct"
    assert webui_env["DUBBING_S3_PUBLIC_URL"] == "https://media.example.com"
    refused = helm.run("template", "dubbing", str(CHART), "--set", "webui.uploadTransfer=sideways", check=False)
    assert refused.returncode != 0 and "uploadTransfer" in refused.stderr
