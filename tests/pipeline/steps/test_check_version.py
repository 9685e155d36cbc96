import pytest

from pipeline.errors import Aborted
from pipeline.keys import EXISTING, EXPECTED_VERSION
from pipeline.steps import CheckVersion
from stigmer_sessions import Session, SessionController, SessionId
from tests.conftest import RunStep, make_session


@pytest.fixture
def stored(controller: SessionController) -> Session:
    return controller.create(make_session())


def test_no_expected_version_is_unconditional(run_step: RunStep, stored: Session) -> None:
    run_step(CheckVersion(), make_session(), values={EXISTING: stored}, write=False)
    run_step(CheckVersion(), SessionId(value="x"), values={EXISTING: stored}, write=False)


def test_matching_version_from_request_or_key_passes(run_step: RunStep, stored: Session) -> None:
    run_step(CheckVersion(), stored, values={EXISTING: stored}, write=False)
    values = {EXISTING: stored, EXPECTED_VERSION: stored.metadata.version.id}
    run_step(CheckVersion(), SessionId(value="x"), values=values, write=False)


def test_mismatch_is_aborted_naming_both_versions(run_step: RunStep, stored: Session) -> None:
    request = make_session()
    request.metadata.version.id = "stale"
    with pytest.raises(Aborted) as err:
        run_step(CheckVersion(), request, values={EXISTING: stored}, write=False)
    assert "'stale'" in err.value.message
    assert repr(stored.metadata.version.id) in err.value.message


def test_explicit_key_wins_over_the_request_body(run_step: RunStep, stored: Session) -> None:
    values = {EXISTING: stored, EXPECTED_VERSION: "other"}
    with pytest.raises(Aborted, match="'other'"):
        run_step(CheckVersion(), stored, values=values, write=False)


def test_expected_version_but_nothing_stored(run_step: RunStep) -> None:
    request = make_session()
    request.metadata.version.id = "v1"
    with pytest.raises(Aborted, match="no such session"):
        run_step(CheckVersion(), request, values={EXISTING: None}, write=False)
