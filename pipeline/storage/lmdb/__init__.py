"""The embedded LMDB backend of :mod:`pipeline.storage`: today's key layout and group commit.

The engine and its faults are in :mod:`pipeline.storage.lmdb.engine`, the key layout in
:mod:`pipeline.storage.lmdb.stores`, the store check in :mod:`pipeline.storage.lmdb.check`.
"""

from pipeline.storage.lmdb.storage import LmdbStorage

__all__ = ["LmdbStorage"]
