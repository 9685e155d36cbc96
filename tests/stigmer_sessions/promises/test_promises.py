"""Every applicable promise for every operation of every kind, on every backend.

Test ids read ``test_promise[lmdb-session-pin-replay]``: the backend, the case, the promise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from pipeline.errors import InvalidArgument
from pipeline.storage import Storage
from tests.stigmer_sessions.promises.cases import ACTOR, CASES, OPERATIONS, Case
from tests.stigmer_sessions.promises.checks import Promise, promises
from tests.stigmer_sessions.promises.target import make_target, without_step

PAIRS = [pytest.param(case, p, id=f"{case.id}-{p.name}") for case in CASES for p in promises(case)]


@pytest.mark.parametrize(("case", "promise"), PAIRS)
def test_promise(case: Case, promise: Promise, storage: Storage) -> None:
    with make_target(case.kind, store=storage) as target:
        promise.check(target, case)


@pytest.mark.parametrize("kind", sorted(OPERATIONS))
def test_every_operation_has_a_case(kind: str, tmp_path: Path) -> None:
    with make_target(kind, tmp_path) as target:
        assert set(target.operations) == OPERATIONS[kind]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_documented_steps_are_the_steps_run(case: Case, tmp_path: Path) -> None:
    with make_target(case.kind, tmp_path) as target:
        assert target.documented_steps(case.operation) == target.steps(case.operation)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_the_invalid_request_is_refused_by_validation_alone(case: Case) -> None:
    """Keeps the table honest: without ValidateProto, nothing else calls the case's invalid
    request INVALID_ARGUMENT (so the validation promise really tests that step)."""
    with tempfile.TemporaryDirectory() as where, make_target(case.kind, Path(where)) as target:
        pipeline = target.operations[case.operation]
        index = target.steps(case.operation).index("ValidateProto")
        target.operations[case.operation] = without_step(pipeline, index)
        request = case.invalid(target)
        try:
            target.run(case.operation, request, actor=ACTOR)
        except InvalidArgument as error:
            pytest.fail(f"another step refuses it too: {error.message}")
        except Exception:
            pass  # another outcome (NOT_FOUND, a write, ...): only validation says INVALID_ARGUMENT
