from pipeline.context import Key
from pipeline.keys import RESPONSE
from pipeline.steps import Respond
from tests.conftest import RunStep, make_session

ANSWER: Key[str] = Key("answer")


def test_copies_the_key_into_the_response(run_step: RunStep) -> None:
    assert run_step(Respond(ANSWER), make_session(), values={ANSWER: "42"}, write=False)[RESPONSE] == "42"
