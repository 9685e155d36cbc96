"""open_storage: a store URL names a backend; SessionController takes one too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InvalidArgument
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage_url import open_storage
from stigmer_sessions import SessionController
from tests.conftest import make_session


def test_lmdb_urls_absolute_and_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = open_storage(f"lmdb://{tmp_path}/abs", durable=False)
    try:
        assert isinstance(absolute, LmdbStorage) and absolute.path == tmp_path / "abs"
        assert absolute.description == f"lmdb://{tmp_path}/abs"
    finally:
        absolute.close()
    monkeypatch.chdir(tmp_path)
    relative = open_storage("lmdb://rel/db", durable=False)
    try:
        assert isinstance(relative, LmdbStorage) and relative.path == tmp_path / "rel" / "db"
    finally:
        relative.close()


@pytest.mark.parametrize("url", ["lmdb://", "mysql://u:secret@h/db", "/just/a/path"])
def test_a_url_naming_no_backend_is_invalid_and_hides_credentials(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        open_storage(url)
    assert "secret" not in caught.value.message


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_go_to_the_postgres_backend(scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[str, dict[str, Any]]] = []

    class FakePostgres:
        def __init__(self, dsn: str, **options: Any) -> None:
            opened.append((dsn, options))

    monkeypatch.setattr("pipeline.storage.postgres.PostgresStorage", FakePostgres)
    url = f"{scheme}://app@db.example:5432/sessions"
    assert isinstance(open_storage(url, pool_size=4), FakePostgres)
    assert opened == [(url, {"pool_size": 4})]


def test_the_controller_owns_a_store_it_opened_by_url_and_not_one_it_was_given(tmp_path: Path) -> None:
    with SessionController(store=f"lmdb://{tmp_path}/owned", durable=False) as controller:
        controller.create(make_session())
    with LmdbStorage(tmp_path / "owned", durable=False) as again:  # closed: it opens again
        with SessionController(store=again) as borrowed:
            assert len(borrowed.list().entries) == 1
        assert again.read(lambda tx: tx.changes.current_revision()) == 1  # still open


class _Following(LmdbStorage):
    """An LMDB store that pretends to hear other processes, to see the controller wire it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, durable=False)
        self.listener: Any = None
        self.stopped = False

    def follow(self, on_revision: Any) -> Any:
        self.listener = on_revision

        def stop() -> None:
            self.stopped = True

        return stop

    @property
    def poll_s(self) -> float | None:
        return 0.25


def test_the_controller_follows_the_storage_and_polls_as_it_asks(tmp_path: Path) -> None:
    storage = _Following(tmp_path / "db")
    try:
        controller = SessionController(store=storage)
        assert controller.watch_poll_s == 0.25
        storage.listener(42)  # a commit elsewhere
        assert controller.hub.revision == 42
        controller.close()
        assert storage.stopped
        with SessionController(store=storage, watch_poll_s=1.0) as other:
            assert other.watch_poll_s == 1.0
    finally:
        storage.close()
