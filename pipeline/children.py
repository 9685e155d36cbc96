"""Ordered child records of a resource (a session's messages), stored under its key prefix.

Key: ``pack(kind, parent id) + sequence`` (8-byte big-endian), so one parent's children are
one contiguous key range in sequence order: reading a page is a range scan, finding the next
sequence number is one seek, and deleting the parent's children is one range walk, all
inside the caller's transaction.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from pipeline.keycodec import pack, unpack
from pipeline.store import Table, Transaction

_SEQ = struct.Struct(">Q")


def _prefix(kind: str, parent_id: str) -> bytes:
    return pack(kind, parent_id)


def last_sequence(txn: Transaction, kind: str, parent_id: str) -> int:
    for key, _ in txn.scan(Table.CHILDREN, _prefix(kind, parent_id), reverse=True):
        return int(_SEQ.unpack(key[-_SEQ.size :])[0])
    return 0


def append(txn: Transaction, kind: str, parent_id: str, sequence: int, data: bytes) -> None:
    txn.put(Table.CHILDREN, _prefix(kind, parent_id) + _SEQ.pack(sequence), data)


def scan(
    txn: Transaction,
    kind: str,
    parent_id: str,
    *,
    after: int = 0,
    before: int | None = None,
    reverse: bool = False,
) -> Iterator[tuple[int, bytes]]:
    """(sequence, data) of the children strictly between ``after`` and ``before``, in
    sequence order or reversed."""
    prefix = _prefix(kind, parent_id)
    if reverse:
        start = prefix + _SEQ.pack(before) if before is not None else None
        for key, value in txn.scan(Table.CHILDREN, prefix, after=start, reverse=True):
            sequence = int(_SEQ.unpack(key[-_SEQ.size :])[0])
            if sequence <= after:
                return
            yield sequence, value
        return
    for key, value in txn.scan(Table.CHILDREN, prefix, after=prefix + _SEQ.pack(after)):
        sequence = int(_SEQ.unpack(key[-_SEQ.size :])[0])
        if before is not None and sequence >= before:
            return
        yield sequence, value


def delete_all(txn: Transaction, kind: str, parent_id: str) -> int:
    keys = [key for key, _ in txn.scan(Table.CHILDREN, _prefix(kind, parent_id))]
    for key in keys:
        txn.delete(Table.CHILDREN, key)
    return len(keys)


def parents(txn: Transaction) -> Iterator[tuple[str, str, int]]:
    """(kind, parent id, child count) of every parent that has children (for store checks)."""
    current: tuple[str, str] | None = None
    count = 0
    for key, _ in txn.scan(Table.CHILDREN, b""):
        kind, parent_id = unpack(key[: -_SEQ.size])
        if (kind, parent_id) != current:
            if current is not None:
                yield (*current, count)
            current, count = (kind, parent_id), 0
        count += 1
    if current is not None:
        yield (*current, count)


def parse_key(key: bytes) -> tuple[str, str, int]:
    """(kind, parent id, sequence) of a child record's key; ValueError if it is malformed."""
    if len(key) <= _SEQ.size:
        raise ValueError(f"child key too short: {key!r}")
    parts = unpack(key[: -_SEQ.size])
    if len(parts) != 2:
        raise ValueError(f"child key without (kind, parent id): {key!r}")
    return parts[0], parts[1], int(_SEQ.unpack(key[-_SEQ.size :])[0])
