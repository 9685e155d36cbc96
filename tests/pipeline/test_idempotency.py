from pipeline import idempotency
from tests.conftest import make_session


def test_fingerprint_covers_operation_payload_and_precondition() -> None:
    a = make_session("a")
    base = idempotency.fingerprint("create", a)
    assert base == idempotency.fingerprint("create", make_session("a"))
    assert base != idempotency.fingerprint("apply", a)
    assert base != idempotency.fingerprint("create", make_session("b"))
    assert base != idempotency.fingerprint("create", a, "v1")
