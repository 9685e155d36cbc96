"""The PostgreSQL backend of :mod:`pipeline.storage`: many server processes share one database.

Tables, locks and re-runs are described in :mod:`pipeline.storage.postgres.storage`; every
statement of the request paths is in :mod:`pipeline.storage.postgres.sql`.
"""

from pipeline.storage.postgres.storage import PostgresStorage

__all__ = ["PostgresStorage"]
