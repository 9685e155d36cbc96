"""A generic, pipeline-based resource library over a transactional store.

Handlers are :class:`Pipeline` s of small steps (``pipeline.steps``) that share data through
a :class:`RequestContext`; a command pipeline runs in one write transaction of a
:class:`Store` (embedded LMDB: :class:`LmdbStore`). Nothing here knows any concrete resource
kind: a kind is described by a :class:`ResourceKind`.
"""

from pipeline.context import Key, RequestContext
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
from pipeline.pipeline import Pipeline, Step
from pipeline.resource import Index, ResourceKind, metadata_indexes
from pipeline.retry import retry_on_conflict
from pipeline.store import LmdbStore, Store, Table, Transaction

__all__ = [
    "Aborted",
    "AlreadyExists",
    "FailedPrecondition",
    "FieldViolation",
    "Index",
    "Internal",
    "InvalidArgument",
    "Key",
    "LmdbStore",
    "NotFound",
    "OutOfRange",
    "OutOfSpace",
    "Pipeline",
    "RequestContext",
    "ResourceError",
    "ResourceExhausted",
    "ResourceKind",
    "Step",
    "Store",
    "Table",
    "Transaction",
    "Unavailable",
    "metadata_indexes",
    "retry_on_conflict",
]
