"""Whole-resource size bounds through the controller: annotations, spec.metadata, the session
and message metadata, each INVALID_ARGUMENT naming the field and the limit, nothing written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.errors import InvalidArgument
from pipeline.storage import Storage
from stigmer_sessions import Session, SessionController
from stigmer_sessions.config import KIB, MIB, SessionConfig
from tests.conftest import data_tables, make_session


def _big_annotations() -> Session:
    s = make_session()
    for i in range(5):
        s.metadata.annotations[f"note-{i}"] = "x" * (60 * KIB)  # each fine, 300 KiB in total
    return s


def _big_spec_metadata() -> Session:
    s = make_session()
    s.spec.metadata["blob"] = "y" * (256 * KIB)
    return s


def _big_session() -> Session:
    s = make_session()
    for i in range(5):
        s.metadata.annotations[f"a{i}"] = "x" * (50 * KIB)
        s.spec.metadata[f"m{i}"] = "y" * (50 * KIB)
    s.spec.subject = "z" * (600 * KIB)
    return s


CASES = [
    (_big_annotations, "metadata.annotations", "262144 bytes"),
    (_big_spec_metadata, "spec.metadata", "262144 bytes"),
    (_big_session, "(Session)", "1048576 bytes"),
]
Case = tuple[Callable[[], Session], str, str]


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("operation", ["create", "apply", "update"])
def test_over_a_session_limit_is_invalid_argument_and_writes_nothing(
    store: Storage, controller: SessionController, case: Case, operation: str
) -> None:
    build, field, limit = case
    request = build()
    if operation == "update":
        existing = controller.create(make_session())
        request.metadata.id = existing.metadata.id
    before = data_tables(store)
    with pytest.raises(InvalidArgument) as err:
        getattr(controller, operation)(request)
    assert any(v.field == field and limit in v.message for v in err.value.violations), err.value.violations
    assert data_tables(store) == before


def test_message_metadata_limit(store: Storage, controller: SessionController) -> None:
    sid = controller.create(make_session()).metadata.id
    before = data_tables(store)
    with pytest.raises(InvalidArgument) as err:
        controller.append_message(sid, "user", "hi", metadata={"k": "v" * (64 * KIB)})
    assert err.value.violations[0].field == "metadata"
    assert "65536 bytes" in err.value.violations[0].message
    assert data_tables(store) == before
    controller.append_message(sid, "user", "hi", metadata={"k": "v" * (64 * KIB - 1)})


def test_limits_are_configurable(store: Storage) -> None:
    small = SessionController(store=store, config=SessionConfig(max_annotations_bytes=10))
    s = make_session()
    s.metadata.annotations["k"] = "v" * 10
    with pytest.raises(InvalidArgument, match="the limit is 10 bytes"):
        small.create(s)


def test_receive_limit_covers_the_limits_with_headroom_and_never_drops_below_grpc_default() -> None:
    assert SessionConfig().receive_limit() == 2 * MIB + 4 * MIB  # a batch at its default budget
    assert (
        SessionConfig(max_message_bytes=100, max_session_bytes=100, max_batch_bytes=100).receive_limit()
        == 4 * MIB + 64 * KIB + 100
    )
    assert SessionConfig(max_message_bytes=6 * MIB).receive_limit() == 6 * MIB + 64 * KIB + 4 * MIB
    assert SessionConfig(max_batch_bytes=9 * MIB).receive_limit() == 9 * MIB + 4 * MIB
