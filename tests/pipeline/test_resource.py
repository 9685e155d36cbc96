"""Index declarations: which fields an index reads, and what a write then recomputes."""

from __future__ import annotations

from typing import Any

from pipeline.resource import Index, ResourceKind, index_changes
from stigmer_sessions.api import Session


def test_a_write_that_names_its_changed_fields_skips_the_indexes_reading_none_of_them() -> None:
    seen: list[str] = []

    def values_of(name: str, path: str) -> Index:
        def values(m: Any) -> list[tuple[str, ...]]:
            seen.append(name)
            return [(m.metadata.org if path == "org" else m.state.phase,)]

        return Index(name, values, reads=("metadata.org",) if path == "org" else ("state.phase",))

    kind = ResourceKind(
        "thing", "Thing", "v1", "thg", Session, indexes=(values_of("o", "org"), values_of("p", "phase"))
    )
    old, new = Session(), Session()
    old.metadata.org = new.metadata.org = "acme"
    old.state.phase, new.state.phase = "active", "paused"
    moved = list(index_changes(kind, old, new, frozenset({"state.phase", "metadata.version"})))
    assert [(i.name, r, a) for i, r, a in moved] == [("p", {("active",)}, {("paused",)})]
    assert seen == ["p", "p"]  # the org index was not even computed
    seen.clear()
    assert [i.name for i, _, _ in index_changes(kind, old, new)] == ["p"] and seen == ["o", "o", "p", "p"]
    assert list(index_changes(kind, None, new, frozenset({"state"})))  # a new record gets every index
    assert Index("x", values_of("x", "org").values, reads=("state",)).reads_any_of(frozenset({"state.phase"}))
    assert Index("x", values_of("x", "org").values).reads_any_of(frozenset({"anything"}))
