"""Opening a storage backend from a URL: ``lmdb:///abs/path`` or a ``postgresql://`` DSN.

``lmdb://`` takes a path: ``lmdb:///srv/data`` is absolute; ``lmdb://data`` (no third slash)
is relative to the working directory, like ``--data-dir data``; ``~`` is expanded. A
``postgresql://`` or ``postgres://`` URL is handed to :class:`PostgresStorage` unchanged
(imported only then, so LMDB users never load psycopg).

This opens a new instance each time; to share one instance among many openers in a process
(LMDB must be opened once per process), use :func:`pipeline.shared_storage.open_shared`.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote

from pipeline.errors import InvalidArgument
from pipeline.storage import Storage
from pipeline.storage.lmdb import LmdbStorage

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_storage(url: str, *, durable: bool = True, **options: Any) -> Storage:
    """The backend ``url`` names, opened (the caller owns it and closes it). ``durable``
    applies to LMDB (PostgreSQL always commits durably); ``options`` go to the backend's
    constructor. InvalidArgument for an unknown scheme or an empty path."""
    if url.startswith("lmdb://"):
        return LmdbStorage(lmdb_path(url), durable=durable, **options)
    if url.startswith(POSTGRES_SCHEMES):
        try:
            from pipeline.storage.postgres import PostgresStorage  # noqa: PLC0415 - lazily, for psycopg
        except ImportError as exc:  # the backend or psycopg is not installed
            raise InvalidArgument(f"the PostgreSQL backend is not available: {exc}") from exc
        storage: Storage = PostgresStorage(url, **options)
        return storage
    raise unknown_store(url)


def lmdb_path(url: str) -> str:
    """The directory an ``lmdb://`` URL names (``~`` expanded); InvalidArgument if none."""
    path = unquote(url.removeprefix("lmdb://"))
    if not path:
        raise InvalidArgument(f"store URL {url!r} names no path: use lmdb:///absolute/path")
    return os.path.expanduser(path)


def unknown_store(url: str) -> InvalidArgument:
    scheme = url.split("://", 1)[0] if "://" in url else url
    return InvalidArgument(f"unknown store {scheme!r}: use lmdb:///path or postgresql://user@host:port/db")
