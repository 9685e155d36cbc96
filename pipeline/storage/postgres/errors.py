"""Where psycopg's exceptions become :mod:`pipeline.errors` (they never leave this package).

Conflicts a re-run resolves (unique violation, serialization failure, deadlock) are not
errors at all to callers: :func:`is_retryable` tells the write loop to run the callback again.
Messages name the database as ``host:port`` only: a DSN may hold a password.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from pipeline.errors import Internal, ResourceError, ResourceExhausted, Unavailable

log = logging.getLogger("pipeline.storage.postgres")

_RETRYABLE = (pg_errors.UniqueViolation, pg_errors.SerializationFailure, pg_errors.DeadlockDetected)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _RETRYABLE)


def translate(exc: Exception, where: str, statement_timeout_s: float) -> ResourceError:
    """The library error for an engine exception; the engine's text goes to the log only."""
    if isinstance(exc, pg_errors.QueryCanceled):
        log.warning("statement timed out on %s: %s", where, exc)
        return Unavailable(
            f"a statement timed out after {statement_timeout_s:g} s on the database at {where}; retry later"
        )
    if isinstance(exc, pg_errors.DiskFull):
        log.error("database at %s is out of disk space: %s", where, exc)
        return ResourceExhausted(f"the database at {where} is out of disk space")
    if isinstance(exc, psycopg.OperationalError | PoolTimeout | psycopg.InterfaceError):
        log.warning("database at %s unavailable: %s", where, exc)
        return Unavailable(f"the database at {where} is unavailable; retry later")
    log.error("database error on %s: %s", where, exc)
    return Internal(f"the database at {where} failed a request (details in the server log)")
