"""Pure parts of the development cluster: node specs, the kubelet command line, certificates."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devcluster import cluster, controlplane, paths
from devcluster.config import GPU_TAINT, ClusterConfig, default_nodes, parse_node_spec
from devcluster.paths import StatePaths
from devcluster.pki import ensure_pki


def test_default_topology_has_a_tainted_gpu_node_and_a_cpu_node():
    gpu, cpu = default_nodes({"DUBBING_DEVCLUSTER_GPUS": "3"})
    assert (gpu.name, gpu.port, gpu.gpus) == ("dev-gpu-0", 10250, 3)
    assert ("nvidia.com/gpu.present", "true") in gpu.labels and gpu.taints == (GPU_TAINT,)
    assert (cpu.name, cpu.port, cpu.gpus, cpu.taints) == ("dev-cpu-0", 10251, 0, ())
    assert default_nodes({"DUBBING_DEVCLUSTER_NODES": "none"}) == ()


def test_node_spec_parsing_and_validation():
    node = parse_node_spec("name=dev-gpu-1,port=10252,gpus=1,memory=8Gi,label=zone:a")
    assert (node.name, node.port, node.gpus, node.memory) == ("dev-gpu-1", 10252, 1, "8Gi")
    assert ("zone", "a") in node.labels and node.taints == (GPU_TAINT,)
    plain = parse_node_spec("name=cpu-x,port=10260,taint=dedicated=batch:NoExecute")
    assert plain.gpus == 0 and plain.taints == ("dedicated=batch:NoExecute",)
    for bad in (
        "name=x",
        "name=Bad_Name,port=1",
        "name=x,port=1,gpus=-1",
        "name=x,port=1,colour=red",
        "name=x,port=1,taint=k=v:Sometimes",
    ):
        with pytest.raises(ValueError):
            parse_node_spec(bad)


def test_ports_come_from_the_environment():
    cfg = ClusterConfig.from_env(
        {"DUBBING_DEVCLUSTER_APISERVER_PORT": "17443", "DUBBING_DEVCLUSTER_ETCD_PORT": "13379"}
    )
    assert cfg.server == "https://127.0.0.1:17443"
    assert (cfg.etcd_client_port, cfg.etcd_peer_port) == (13379, 13380)


def test_kubelet_command_line_follows_the_agreed_contract(tmp_path: Path):
    state = StatePaths(tmp_path)
    node = parse_node_spec("name=dev-gpu-1,port=10252,gpus=2,cpu=4,memory=8Gi")
    argv = cluster.kubelet_argv(node, state, python="/py")
    assert argv[:3] == ["/py", "-m", "devcluster.kubelet"]
    pairs = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert pairs["--kubeconfig"] == str(tmp_path / "kubeconfig")
    assert pairs["--node-name"] == "dev-gpu-1" and pairs["--port"] == "10252"
    assert pairs["--tls-cert"] == str(tmp_path / "pki" / "kubelet.crt")
    assert pairs["--tls-key"] == str(tmp_path / "pki" / "kubelet.key")
    assert (pairs["--gpus"], pairs["--cpu"], pairs["--memory"]) == ("2", "4", "8Gi")
    assert pairs["--state-dir"] == str(tmp_path / "nodes" / "dev-gpu-1")
    assert pairs["--label"] == "nvidia.com/gpu.present=true"
    assert pairs["--taint"] == GPU_TAINT


def test_certificates_chain_to_the_ca_with_the_right_names(tmp_path: Path):
    pki = ensure_pki(tmp_path / "pki")
    ca = x509.load_pem_x509_certificate(pki.ca_crt.read_bytes())

    def load(name: str) -> x509.Certificate:
        cert = x509.load_pem_x509_certificate(pki.crt(name).read_bytes())
        cert.verify_directly_issued_by(ca)
        return cert

    def sans(cert: x509.Certificate) -> set[str]:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return set(ext.get_values_for_type(x509.DNSName)) | {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}

    def usages(cert: x509.Certificate) -> set:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)

    kubelet = load("kubelet")
    assert {"127.0.0.1", "localhost"} <= sans(kubelet)
    assert usages(kubelet) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert {"kubernetes.default.svc", "10.96.0.1", "127.0.0.1"} <= sans(load("apiserver"))
    admin = load("admin")
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert usages(admin) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert load("controller-manager").subject.rfc4514_string() == "CN=system:kube-controller-manager"
    assert ipaddress.ip_address("10.96.0.1") in ipaddress.ip_network(ClusterConfig().service_cidr)

    # A second call keeps what exists (kubeconfigs made from it stay valid).
    before = pki.crt("admin").read_bytes()
    ensure_pki(tmp_path / "pki")
    assert pki.crt("admin").read_bytes() == before


def test_apiserver_flags_wire_the_kubelet_client_and_rbac(tmp_path: Path):
    state = StatePaths(tmp_path)
    pki = ensure_pki(state.pki)
    argv = controlplane.apiserver_argv(Path("/bin/kube-apiserver"), ClusterConfig(), state, pki)
    assert "--authorization-mode=Node,RBAC" in argv
    assert f"--kubelet-client-certificate={pki.crt('apiserver-kubelet-client')}" in argv
    assert "--kubelet-preferred-address-types=InternalIP,Hostname" in argv
    kcm = controlplane.controller_manager_argv(
        Path("/bin/kcm"), ClusterConfig(node_monitor_grace_seconds=25), state, pki
    )
    assert "--node-monitor-grace-period=25s" in kcm


def test_apiserver_profiles_are_served_only_when_asked(tmp_path: Path):
    state = StatePaths(tmp_path)
    pki = ensure_pki(state.pki)
    plain = controlplane.apiserver_argv(Path("/bin/kube-apiserver"), ClusterConfig.from_env({}), state, pki)
    assert "--profiling=false" in plain
    asked = ClusterConfig.from_env({"DUBBING_DEVCLUSTER_PROFILING": "1"})
    assert "--profiling=true" in controlplane.apiserver_argv(Path("/bin/kube-apiserver"), asked, state, pki)


def test_version_is_read_from_the_build_module():
    assert paths.k8s_version() == "v1.31.4"
