"""Remembered requests, so a retried write returns its first response instead of writing again.

An entry is keyed by (kind, request id) and holds a fingerprint of the request, its expiry
time and the serialized response. It is written by the same transaction as the change it
describes, so it exists exactly when the change does. Expired entries are ignored when
read and purged a few at a time by later writes (``purge_expired``), through a second key
(expiry time, request id) that keeps them in expiry order: no sweeper thread, no full scan.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from google.protobuf.message import Message

from pipeline.keycodec import pack, unpack
from pipeline.store import Table, Transaction

DEFAULT_TTL_NS = 24 * 3600 * 10**9
PURGE_PER_WRITE = 16
_HEADER = struct.Struct("<Bq32s")  # format version, expires_at_ns, sha256 of the request
_FORMAT = 1
_ENTRY = "req"
_EXPIRY = "exp"


@dataclass(frozen=True)
class Remembered:
    expires_at_ns: int
    fingerprint: bytes
    response: bytes


def fingerprint(operation: str, request: Message, expected_version: str = "") -> bytes:
    """What makes two requests 'the same': operation, exact payload, and precondition."""
    digest = hashlib.sha256(operation.encode())
    digest.update(b"\0")
    digest.update(request.SerializeToString(deterministic=True))
    digest.update(b"\0")
    digest.update(expected_version.encode())
    return digest.digest()


def lookup(txn: Transaction, kind: str, request_id: str, now_ns: int) -> Remembered | None:
    """The unexpired entry for ``request_id``, if any."""
    raw = txn.get(Table.REQUESTS, pack(_ENTRY, kind, request_id))
    if raw is None:
        return None
    _, expires, digest = _HEADER.unpack_from(raw)
    if expires <= now_ns:
        return None
    return Remembered(expires, digest, raw[_HEADER.size :])


def remember(
    txn: Transaction, kind: str, request_id: str, *, digest: bytes, response: bytes, expires_at_ns: int
) -> None:
    key = pack(_ENTRY, kind, request_id)
    previous = txn.get(Table.REQUESTS, key)
    if previous is not None:  # an expired entry being reused: drop its expiry key
        txn.delete(
            Table.REQUESTS, pack(_EXPIRY, _time_key(_HEADER.unpack_from(previous)[1]), kind, request_id)
        )
    txn.put(Table.REQUESTS, key, _HEADER.pack(_FORMAT, expires_at_ns, digest) + response)
    txn.put(Table.REQUESTS, pack(_EXPIRY, _time_key(expires_at_ns), kind, request_id), b"")


def purge_expired(txn: Transaction, now_ns: int, limit: int = PURGE_PER_WRITE) -> int:
    """Delete up to ``limit`` expired entries, oldest first; returns how many."""
    doomed: list[bytes] = []
    now_key = _time_key(now_ns)
    for key, _ in txn.scan(Table.REQUESTS, pack(_EXPIRY)):
        _, expires, kind, request_id = unpack(key)
        if expires > now_key or len(doomed) >= limit * 2:
            break
        doomed += [key, pack(_ENTRY, kind, request_id)]
    for key in doomed:
        txn.delete(Table.REQUESTS, key)
    return len(doomed) // 2


def _time_key(ns: int) -> str:
    return f"{max(ns, 0):020d}"  # zero-padded so string order is time order


class RequestsCheck:
    """Checks remembered requests while ``verify`` reads the ``requests`` table item by
    item: every entry parses, and entries and their expiry keys match one to one."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.entries = 0
        self._entries: dict[tuple[str, str], str] = {}
        self._expiries: dict[tuple[str, str], str] = {}

    def visit(self, key: bytes, value: bytes) -> None:
        try:
            parts = unpack(key)
        except (ValueError, UnicodeDecodeError):
            self.problems.append(f"remembered requests: malformed key {key!r}")
            return
        if len(parts) == 3 and parts[0] == _ENTRY:
            self.entries += 1
            if len(value) < _HEADER.size or value[0] != _FORMAT:
                self.problems.append(f"remembered request {parts[2]!r} of {parts[1]} is corrupt")
                return
            self._entries[(parts[1], parts[2])] = _time_key(_HEADER.unpack_from(value)[1])
        elif len(parts) == 4 and parts[0] == _EXPIRY:
            self._expiries[(parts[2], parts[3])] = parts[1]
        else:
            self.problems.append(f"remembered requests: unexpected key {key!r}")

    def finish(self) -> list[list[str]]:
        """The problems found, once every item has been visited, grouped by kind of problem."""
        unmatched = [
            f"remembered request {request_id!r} of {kind} has no matching expiry key"
            for (kind, request_id), expires in sorted(self._entries.items())
            if self._expiries.get((kind, request_id)) != expires
        ]
        orphans = [
            f"expiry key of remembered request {request_id!r} of {kind} has no entry"
            for kind, request_id in sorted(self._expiries.keys() - self._entries.keys())
        ]
        return [self.problems, unmatched, orphans]
