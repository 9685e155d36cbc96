"""Certificates made in the tests: a CA, server certificates for 127.0.0.1/localhost, client
certificates with a chosen URI SAN, DNS SAN or CN, as objects and as PEM files; a channel
trusting a CA (with a client certificate), and the certificate a server presents.

EC P-256 keys: generated in microseconds, and served by grpc like RSA ones.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: What a server certificate from :func:`server_cert` is valid for by default.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        """Write ``name.crt`` and ``name.key`` into ``directory``; their paths."""
        cert, key = directory / f"{name}.crt", directory / f"{name}.key"
        cert.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        return cert, key


def _name(cn: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


def _builder(
    subject: str | None, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def make_ca(cn: str = "Test CA") -> Issued:
    """A self-signed CA certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(cn, _name(cn), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue(
    ca: Issued,
    *,
    cn: str | None,
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    uris: Sequence[str] = (),
    sans: Sequence[x509.GeneralName] = (),
    server: bool | None = None,
) -> Issued:
    """A leaf certificate signed by ``ca`` with subject CN ``cn`` (None: an empty subject)
    and SANs: ``sans`` first, in their order, then ``uris``, ``dns`` and ``ips``; for TLS
    servers (``server``), clients (False), or either (None: no extended key usage)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _builder(cn, ca.certificate.subject, key).add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    )
    names: list[x509.GeneralName] = [*sans, *(x509.UniformResourceIdentifier(u) for u in uris)]
    names += [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if server is not None:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def server_cert(ca: Issued, hosts: Sequence[str] = LOOPBACK_HOSTS, *, cn: str = "localhost") -> Issued:
    """A server certificate for ``hosts`` (names become DNS SANs, addresses IP SANs)."""
    ips, names = [], []
    for host in hosts:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            names.append(host)
        else:
            ips.append(host)
    return issue(ca, cn=cn, dns=names, ips=ips, server=True)


def client_cert(ca: Issued, *, cn: str = "client", uri: str | None = None, dns: str | None = None) -> Issued:
    """A client certificate: subject CN ``cn``, plus a URI SAN and/or a DNS SAN if given."""
    return issue(ca, cn=cn, uris=[uri] if uri else [], dns=[dns] if dns else [], server=False)


def secure_channel(address: str, ca: Issued, client: Issued | None = None) -> grpc.Channel:
    """A channel trusting only ``ca`` (presenting ``client``'s certificate, if given), with
    its own connections: grpc would otherwise share a subchannel with an earlier channel to
    the same address, and a "fresh" channel would not make a new handshake."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.cert_pem,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    return grpc.secure_channel(address, credentials, options=[("grpc.use_local_subchannel_pool", 1)])


def served_certificate(address: str) -> x509.Certificate:
    """The certificate a new TLS connection to ``address`` is shown (not verified: this
    only looks at which one the server presents)."""
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host.strip("[]"), int(port)), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)
