"""Versioned schema migrations, applied in order, each exactly once.

``MIGRATIONS`` lists ``(version, file)``; a new schema version is a new file appended here,
never an edit of an old one, so every database reaches the same schema by the same steps
and nobody upgrades a schema by hand.
"""

from __future__ import annotations

from importlib.resources import files

MIGRATIONS: tuple[tuple[int, str], ...] = ((1, "0001_initial.sql"), (2, "0002_index_sets.sql"))
LATEST = MIGRATIONS[-1][0]


def sql(name: str) -> str:
    """The text of migration file ``name`` (shipped as package data)."""
    return (files(__name__) / name).read_text(encoding="utf-8")
