"""Every applicable promise for every operation of every kind (and variant), on every backend.

Test ids read ``test_promise[lmdb-session-pin-replay]``: the backend, the case, the promise
(``test_promise[postgres-agent_instance+integrity-delete+cascade-dry-run]``: the delete of
an agent instance asking for the cascade, served with ``--require-agent-instance``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from pipeline.errors import InvalidArgument
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from tests.stigmer_sessions.promises.cases import ACTOR, Case
from tests.stigmer_sessions.promises.checks import Promise, promises
from tests.stigmer_sessions.promises.table import CASES, OPERATIONS
from tests.stigmer_sessions.promises.target import FACTORIES, make_target, signature, without_step

PAIRS = [pytest.param(case, p, id=f"{case.id}-{p.name}") for case in CASES for p in promises(case)]


@pytest.mark.parametrize(("case", "promise"), PAIRS)
def test_promise(case: Case, promise: Promise, storage: Storage) -> None:
    with make_target(case.kind, store=storage) as target:
        promise.check(target, case)


def test_every_kind_served_has_a_target_and_cases(tmp_path: Path) -> None:
    with SessionController(tmp_path) as controller:
        served = set(controller.resources.kinds)
    assert {kind for kind in OPERATIONS if "+" not in kind} == served
    assert set(FACTORIES) == set(OPERATIONS), "a target without cases, or cases without a target"


@pytest.mark.parametrize("kind", sorted(OPERATIONS))
def test_every_operation_has_a_case(kind: str, tmp_path: Path) -> None:
    """Every operation of every kind has a case; a variant (``kind+variant``) has one for
    every operation its flag changes (other steps, or steps set otherwise) and no other."""
    base, _, variant = kind.partition("+")
    with make_target(kind, tmp_path / "target") as target:
        if not variant:
            assert set(target.operations) == OPERATIONS[kind]
            return
        with make_target(base, tmp_path / "plain") as plain:
            changed = {
                op
                for op, pipeline in target.operations.items()
                if signature(pipeline) != signature(plain.operations[op])
            }
        assert changed, f"{kind} runs what {base} runs: it is no variant"
        assert changed == OPERATIONS[kind]


DOCUMENTED = sorted({(c.kind, c.operation) for c in CASES})


@pytest.mark.parametrize(("kind", "operation"), [pytest.param(*d, id="-".join(d)) for d in DOCUMENTED])
def test_documented_steps_are_the_steps_run(kind: str, operation: str, tmp_path: Path) -> None:
    """docs/operations.md lists what each operation runs; for a variant, its "With
    `--require-agent-instance`:" line (or the plain one, where the flag adds no step)."""
    with make_target(kind, tmp_path) as target:
        assert target.documented_steps(operation) == target.steps(operation)


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
            case.run(target, request, actor=ACTOR)
        except InvalidArgument as error:
            pytest.fail(f"another step refuses it too: {error.message}")
        except Exception:
            pass  # another outcome (NOT_FOUND, a write, ...): only validation says INVALID_ARGUMENT
