"""Client certificates (mutual TLS): which principal a verified peer certificate names.

grpc reports the peer in ``context.auth_context()`` (each value a list of bytes): the
certificate as ``x509_pem_cert``, its SANs under ``x509_subject_alternative_name`` without
saying which are URIs and which DNS names, and ``x509_common_name``. So the PEM is parsed
(with ``cryptography``) to take, in order, the first URI SAN (a SPIFFE id, say), else the
first DNS SAN, else the subject's CN. grpc fills these in only for a certificate it has
verified against the configured client CA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

PEM_KEY = "x509_pem_cert"


def certificate_identity(auth_context: Mapping[str, Sequence[bytes]]) -> str | None:
    """The principal id the peer certificate names (URI SAN > DNS SAN > CN), None without
    a certificate or a usable name in it."""
    pems = auth_context.get(PEM_KEY) or ()
    if not pems:
        return None
    try:
        cert = x509.load_pem_x509_certificate(pems[0])
    except ValueError:
        return None
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = None
    if sans is not None:
        for kind in (x509.UniformResourceIdentifier, x509.DNSName):
            names = sans.get_values_for_type(kind)
            if names:
                return str(names[0])
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common_names:
        value = common_names[0].value
        return value if isinstance(value, str) else value.decode()
    return None
