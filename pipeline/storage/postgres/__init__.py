"""The PostgreSQL backend of :mod:`pipeline.storage`: many server processes share one database.

Tables come from versioned migrations (``migrations/``); every request-path statement is in
:mod:`.sql` (and plan-checked); locks, re-runs and the follower are in :mod:`.storage`.

What it costs, and where the limits are:

* Revisions come from one row (``change_head``) locked from a transaction's append to its
  commit: gap-free and in commit order, but changes are appended one transaction at a time,
  commit flush included. That row is the write ceiling of the whole deployment, whatever the
  number of replicas (``tools/pg_write_ceiling.py`` measures it).
* ``count()`` is ``count(*)`` over an index: O(matches), no hot counter row. Counting every
  record of a kind (an unfiltered list total) reads that kind's whole primary-key range.
* A quota check (``count()`` in a write) locks a row of ``locks`` per (kind, index, values);
  those rows stay, one per org or owner ever counted.
* Notifications are a wake-up only (one channel per database, so schemas sharing a database
  wake each other's watchers needlessly); watchers poll the log every ``poll_s`` anyway.
* Portability (CockroachDB, YugabyteDB): no advisory locks, no sequences, plain row locks,
  ``ON CONFLICT`` and ``FOR UPDATE [SKIP LOCKED]``, re-runs on 40001. Not portable as is:
  ``COLLATE "C"`` on text keys, ``pg_notify``/``LISTEN`` (the follower would only log; the
  append's notify would need to be switched off), ``to_regclass``, server-side cursors in
  check/reindex. psycopg prepares hot statements: behind PgBouncer in transaction mode, set
  ``prepare_threshold=None``.
"""

from pipeline.storage.postgres.storage import PostgresStorage

__all__ = ["PostgresStorage"]
