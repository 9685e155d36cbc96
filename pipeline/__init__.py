"""A generic, pipeline-based resource library over a transactional store.

Handlers are :class:`Pipeline` s of small steps (``pipeline.steps``) that share data through
a :class:`RequestContext`; a command pipeline runs in one write transaction (:class:`Tx`) of
a :class:`Storage` backend (embedded LMDB: :class:`LmdbStorage`; PostgreSQL; any of them by
URL: :func:`open_storage`). Nothing here knows any concrete resource
kind: a kind is described by a :class:`ResourceKind`.
"""

from typing import TYPE_CHECKING

from pipeline.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    OutOfSpace,
    ResourceError,
    ResourceExhausted,
    Unavailable,
)
from pipeline.lazy import lazy_attributes

# The rest is imported on first use (PEP 562): a client needs pipeline.errors, not LMDB.
_LAZY = {
    "Key": "pipeline.context",
    "RequestContext": "pipeline.context",
    "Pipeline": "pipeline.pipeline",
    "Step": "pipeline.pipeline",
    "Index": "pipeline.resource",
    "ResourceKind": "pipeline.resource",
    "metadata_indexes": "pipeline.resource",
    "retry_on_conflict": "pipeline.retry",
    "Storage": "pipeline.storage",
    "Tx": "pipeline.storage",
    "LmdbStorage": "pipeline.storage.lmdb",
    "open_storage": "pipeline.storage_url",
}

if TYPE_CHECKING:
    from pipeline.context import Key, RequestContext
    from pipeline.pipeline import Pipeline, Step
    from pipeline.resource import Index, ResourceKind, metadata_indexes
    from pipeline.retry import retry_on_conflict
    from pipeline.storage import Storage, Tx
    from pipeline.storage.lmdb import LmdbStorage
    from pipeline.storage_url import open_storage


__getattr__, __dir__ = lazy_attributes("pipeline", _LAZY, globals())


__all__ = [
    "Aborted",
    "AlreadyExists",
    "FailedPrecondition",
    "FieldViolation",
    "Index",
    "Internal",
    "InvalidArgument",
    "Key",
    "LmdbStorage",
    "NotFound",
    "OutOfRange",
    "OutOfSpace",
    "Pipeline",
    "RequestContext",
    "ResourceError",
    "ResourceExhausted",
    "ResourceKind",
    "Step",
    "Storage",
    "Tx",
    "Unavailable",
    "metadata_indexes",
    "open_storage",
    "retry_on_conflict",
]
