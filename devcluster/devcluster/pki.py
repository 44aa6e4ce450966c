"""Certificates and keys for the development cluster.

One CA signs every serving and client certificate; a separate front-proxy CA
signs the aggregation-layer client. Files are created only when missing, so an
existing ``pki/`` (and every kubeconfig made from it) stays valid across runs.
Keys are ECDSA P-256: quick to make and accepted by every component.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"

SERVER = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class CertSpec:
    """What one leaf certificate says: subject, usages and subject alt names."""

    name: str  # file stem in pki/
    common_name: str
    organizations: tuple[str, ...] = ()
    usages: tuple[x509.ObjectIdentifier, ...] = (CLIENT,)
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    ca: str = "ca"


@dataclass(frozen=True)
class Pki:
    """Paths of the files :func:`ensure_pki` creates."""

    dir: Path
    certs: tuple[CertSpec, ...] = field(default=())

    def crt(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    @property
    def ca_crt(self) -> Path:
        return self.crt("ca")

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"


def leaf_specs() -> tuple[CertSpec, ...]:
    """Every leaf certificate the control plane and the kubelets use."""
    local_dns = ("localhost",)
    local_ips = ("127.0.0.1", "::1")
    return (
        CertSpec(
            "apiserver",
            "kube-apiserver",
            usages=(SERVER,),
            dns_names=local_dns
            + (
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ),
            ip_addresses=local_ips + (KUBERNETES_SERVICE_IP,),
        ),
        CertSpec("admin", "kubernetes-admin", organizations=("system:masters",)),
        CertSpec("apiserver-kubelet-client", "kube-apiserver-kubelet-client", organizations=("system:masters",)),
        CertSpec("controller-manager", "system:kube-controller-manager"),
        CertSpec("scheduler", "system:kube-scheduler"),
        CertSpec("kubelet", "dev-kubelet", usages=(SERVER,), dns_names=local_dns, ip_addresses=local_ips),
        CertSpec("front-proxy-client", "front-proxy-client", ca="front-proxy-ca"),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load(pki: Pki, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pki.crt(name).read_bytes())
    key = serialization.load_pem_private_key(pki.key(name).read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(
    spec: CertSpec, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in spec.organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.common_name))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(spec.usages)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in spec.dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def ensure_pki(directory: Path) -> Pki:
    """Create whatever CA, leaf certificate or service-account key is missing."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    specs = leaf_specs()
    pki = Pki(directory, specs)
    for ca_name, cn in (("ca", "devcluster-ca"), ("front-proxy-ca", "devcluster-front-proxy-ca")):
        if not (pki.crt(ca_name).exists() and pki.key(ca_name).exists()):
            cert, key = make_ca(cn)
            _write_key(pki.key(ca_name), key)
            _write_cert(pki.crt(ca_name), cert)
    for spec in specs:
        if pki.crt(spec.name).exists() and pki.key(spec.name).exists():
            continue
        ca_cert, ca_key = _load(pki, spec.ca)
        cert, key = make_leaf(spec, ca_cert, ca_key)
        _write_key(pki.key(spec.name), key)
        _write_cert(pki.crt(spec.name), cert)
    if not (pki.sa_key.exists() and pki.sa_pub.exists()):
        sa = _new_key()
        _write_key(pki.sa_key, sa)
        pki.sa_pub.write_bytes(
            sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return pki
