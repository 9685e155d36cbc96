"""Remembered requests, so a retried write returns its first response instead of writing again.

An entry is keyed by (kind, request id) and holds a fingerprint of the request, its expiry
time and the serialized response (the backend's :class:`~pipeline.storage.RequestStore`).
It is written by the same transaction as the change it describes, so it exists exactly when
the change does. Expired entries are ignored when read and purged a few at a time by later
writes: no sweeper thread, no full scan. What is generic lives here: what makes two
requests the same, whose request ids are whose (:func:`scoped`), and the defaults.
"""

from __future__ import annotations

import hashlib

from google.protobuf.message import Message

DEFAULT_TTL_NS = 24 * 3600 * 10**9
PURGE_PER_WRITE = 16


def fingerprint(operation: str, request: Message, expected_version: str = "") -> bytes:
    """What makes two requests 'the same': operation, exact payload, and precondition."""
    digest = hashlib.sha256(operation.encode())
    digest.update(b"\0")
    digest.update(request.SerializeToString(deterministic=True))
    digest.update(b"\0")
    digest.update(expected_version.encode())
    return digest.digest()


def scoped(request_id: str, principal_id: str | None) -> str:
    """The key a request id is remembered under: the id itself for a trusted caller, else
    prefixed by a digest of the principal's id and a control character (which no client's
    request id may hold, :mod:`pipeline.limits`). So another principal's id is never
    replayed to you, nor does its reuse clash with yours: each principal has its own ids."""
    if principal_id is None:
        return request_id
    owner = hashlib.sha256(principal_id.encode()).hexdigest()[:24]
    return f"{owner}\x1f{request_id}"
