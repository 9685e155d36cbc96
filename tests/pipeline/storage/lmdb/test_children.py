from pipeline.storage import Tx
from pipeline.storage.lmdb import LmdbStorage


def fill(lmdb_store: LmdbStorage, parent: str, n: int) -> None:
    def body(txn: Tx) -> None:
        for i in range(1, n + 1):
            txn.children.append("session", parent, i, f"{parent}:{i}".encode())

    lmdb_store.write(body)


def test_ranges_per_parent_never_mix(lmdb_store: LmdbStorage) -> None:
    fill(lmdb_store, "a", 5)
    fill(lmdb_store, "b", 3)
    fill(lmdb_store, "a\x00", 2)  # a parent id that extends another's must not bleed into it

    def read(**kw: object) -> list[str]:
        return lmdb_store.read(lambda txn: [d.decode() for _, d in txn.children.scan("session", **kw)])  # type: ignore[arg-type]

    assert read(parent_id="a") == [f"a:{i}" for i in range(1, 6)]
    assert read(parent_id="a", after=2, before=5) == ["a:3", "a:4"]
    assert read(parent_id="a", reverse=True, before=4) == ["a:3", "a:2", "a:1"]
    assert read(parent_id="a", reverse=True, after=3) == ["a:5", "a:4"]
    assert read(parent_id="b") == ["b:1", "b:2", "b:3"]
    assert lmdb_store.read(lambda txn: txn.children.last_sequence("session", "a")) == 5
    assert lmdb_store.read(lambda txn: txn.children.last_sequence("session", "none")) == 0
    assert lmdb_store.read(lambda txn: list(txn.children.parents())) == [
        ("session", "a", 5),
        ("session", "a\x00", 2),
        ("session", "b", 3),
    ]


def test_delete_all_removes_only_that_parent(lmdb_store: LmdbStorage) -> None:
    fill(lmdb_store, "a", 4)
    fill(lmdb_store, "b", 2)
    assert lmdb_store.write(lambda txn: txn.children.delete_all("session", "a")) == 4
    assert lmdb_store.read(lambda txn: list(txn.children.parents())) == [("session", "b", 2)]
