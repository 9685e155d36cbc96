"""What grpc reports of a client certificate, for authenticator tests without a handshake
(the certificates themselves come from tests/certs.py)."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.certs import Issued


def auth_context(cert: Issued) -> dict[str, list[bytes]]:
    """What grpc's ``auth_context()`` holds for a verified client certificate (its shape as
    grpcio 1.85 reports it: every value a list of bytes, SANs without a URI:/DNS: prefix)."""
    sans: list[bytes] = []
    try:
        ext = cert.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(name.value).encode() for name in ext]
    except x509.ExtensionNotFound:
        pass
    cns = cert.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {
        "transport_security_type": [b"ssl"],
        "x509_pem_cert": [cert.cert_pem],
        "x509_subject_alternative_name": sans,
        **({"x509_common_name": [str(cns[0].value).encode()]} if cns else {}),
        "security_level": [b"TSI_PRIVACY_AND_INTEGRITY"],
    }
