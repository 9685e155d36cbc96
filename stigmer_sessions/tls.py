"""The server's TLS certificate, key and (for mutual TLS) client CA, re-readable while serving.

:class:`ServerTls` reads and checks the files (each parses, the key is the certificate's), and
hands grpc *dynamic* credentials: grpc asks its fetcher for a configuration at every new
handshake, so after :meth:`ServerTls.reload` (SIGHUP, through :class:`~stigmer_sessions.reloads.Reloads`)
new connections get the new certificate while open ones carry on untouched. A reload that
fails raises and changes nothing: a half-rotated pair (new certificate, old key) keeps the
old pair in force instead of breaking every new handshake.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

__all__ = ["ServerTls", "TlsError", "TlsMaterial"]


class TlsError(ValueError):
    """A TLS file that is missing, unreadable or not what it should be (the message names it)."""


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """One consistent set of the files' contents, as PEM bytes for grpc."""

    certificate_chain: bytes
    private_key: bytes
    client_ca: bytes | None
    #: The leaf certificate's serial number and SHA-256 fingerprint (hex), for the log.
    serial: int
    fingerprint: str


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def _certificates(data: bytes, path: str, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise TlsError(f"the {what} {path} holds no PEM certificate")
    return certificates


def load(cert_file: str, key_file: str, client_ca_file: str | None = None) -> TlsMaterial:
    """Read and check the files: the certificate chain and the client CA parse as PEM
    certificates, the key as an unencrypted PEM private key that belongs to the chain's first
    certificate (grpc would only fail later, at each handshake, with nothing in our log)."""
    chain = _read(cert_file, "TLS certificate")
    key = _read(key_file, "TLS key")
    leaf = _certificates(chain, cert_file, "TLS certificate")[0]
    try:
        private_key = serialization.load_pem_private_key(key, password=None)
    except TypeError:
        raise TlsError(f"the TLS key {key_file} is encrypted: give an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsError(f"the TLS key {key_file} is not a PEM private key") from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private_key.public_key().public_bytes(*raw) != leaf.public_key().public_bytes(*raw):
        raise TlsError(f"the TLS key {key_file} does not belong to the certificate {cert_file}")
    client_ca = None
    if client_ca_file is not None:
        client_ca = _read(client_ca_file, "TLS client CA")
        _certificates(client_ca, client_ca_file, "TLS client CA")
    fingerprint = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    return TlsMaterial(chain, key, client_ca, leaf.serial_number, fingerprint)


class ServerTls:
    """The server's TLS files: loaded (and checked) at construction, again on :meth:`reload`.

    With ``client_ca_file`` it is mutual TLS: every client must present a certificate signed
    by that CA, or the handshake fails before any RPC is seen.
    """

    def __init__(self, cert_file: str, key_file: str, client_ca_file: str | None = None) -> None:
        self.cert_file, self.key_file, self.client_ca_file = cert_file, key_file, client_ca_file
        self._lock = threading.Lock()
        self._material = load(cert_file, key_file, client_ca_file)
        self._generation = 0

    @property
    def mutual(self) -> bool:
        return self.client_ca_file is not None

    @property
    def material(self) -> TlsMaterial:
        """What new handshakes use (the last successful load)."""
        with self._lock:
            return self._material

    def reload(self) -> TlsMaterial:
        """Read the files again; new handshakes use them from now on. On any error this
        raises :class:`TlsError` and the previous files stay in force."""
        material = load(self.cert_file, self.key_file, self.client_ca_file)
        with self._lock:
            self._material = material
            self._generation += 1
        return material

    def _configuration(self, material: TlsMaterial) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(material.private_key, material.certificate_chain)], root_certificates=material.client_ca
        )

    def credentials(self) -> grpc.ServerCredentials:
        """Credentials for one server port. Each call has its own fetcher, which hands grpc a
        new configuration only when a reload happened since it last did (grpc keeps the
        current one when the fetcher returns None, and would otherwise rebuild its SSL context
        at every handshake)."""
        with self._lock:
            seen = self._generation
            initial = self._configuration(self._material)

        def fetch() -> grpc.ServerCertificateConfiguration | None:
            nonlocal seen
            with self._lock:
                if self._generation == seen:
                    return None
                seen = self._generation
                material = self._material
            return self._configuration(material)

        # grpc documents None as "no change"; types-grpcio's signature omits it
        fetcher = cast(Callable[[], grpc.ServerCertificateConfiguration], fetch)
        return grpc.dynamic_ssl_server_credentials(
            initial, fetcher, require_client_authentication=self.mutual
        )
