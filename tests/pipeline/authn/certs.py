"""Test certificates: a CA and the certificates it signs, made on the spot."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def issue(
    common_name: str | None,
    sans: list[x509.GeneralName] | None = None,
    *,
    ca: Issued | None = None,
    is_ca: bool = False,
) -> Issued:
    """A certificate for ``common_name`` (None: an empty subject) with ``sans``, signed by
    ``ca`` (None: self-signed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return Issued(key, builder.sign(ca.key if ca else key, hashes.SHA256()))


def auth_context(cert: Issued) -> dict[str, list[bytes]]:
    """What grpc's ``auth_context()`` holds for a verified client certificate (its shape as
    grpcio 1.85 reports it: every value a list of bytes, SANs without a URI:/DNS: prefix)."""
    sans: list[bytes] = []
    try:
        ext = cert.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(name.value).encode() for name in ext]
    except x509.ExtensionNotFound:
        pass
    cns = cert.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {
        "transport_security_type": [b"ssl"],
        "x509_pem_cert": [cert.cert_pem],
        "x509_subject_alternative_name": sans,
        **({"x509_common_name": [str(cns[0].value).encode()]} if cns else {}),
        "security_level": [b"TSI_PRIVACY_AND_INTEGRITY"],
    }
