"""A throw-away PKI made in the test with ``cryptography``: a CA, a server certificate for 127.0.0.1 and
client certificates whose subject CN is a station identity (OCPP security profile 3)."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test CPO"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
    key_path = path.with_suffix(".key")
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path = path.with_suffix(".pem")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


@dataclass
class Pki:
    folder: Path

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = (x509.CertificateBuilder().subject_name(_name("Test CSMS Root")).issuer_name(_name("Test CSMS Root"))
                        .public_key(self.ca_key.public_key()).serial_number(x509.random_serial_number())
                        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
                        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                        .sign(self.ca_key, hashes.SHA256()))
        self.ca_path = self.folder / "ca.pem"
        self.ca_path.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self.issue("127.0.0.1", server=True)

    def issue(self, cn: str, server: bool = False, ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None
              ) -> tuple[Path, Path]:
        ca_key, ca_cert = ca or (self.ca_key, self.ca_cert)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1)))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(cn))]),
                                            critical=False)
            usage = ExtendedKeyUsageOID.SERVER_AUTH
        else:
            usage = ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        safe = cn.replace(".", "_")
        return _write(self.folder / f"{'server' if server else 'client'}-{safe}", key, builder.sign(ca_key, hashes.SHA256()))

    def client_context(self, cn: str | None = None) -> ssl.SSLContext:
        """A station's TLS context: trusts the test CA; with ``cn``, presents a client certificate for it."""
        context = ssl.create_default_context(cafile=str(self.ca_path))
        if cn is not None:
            cert, key = self.issue(cn)
            context.load_cert_chain(cert, key)
        return context
