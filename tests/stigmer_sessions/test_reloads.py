from __future__ import annotations

import logging

import pytest

from stigmer_sessions.reloads import Reloads


def test_a_failing_reload_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []
    reloads = Reloads()
    reloads.add("certificates", lambda: ran.append("certs"))

    def broken() -> None:
        raise ValueError("no such file")

    reloads.add("tokens", broken)
    reloads.add("other", lambda: ran.append("other"))
    with caplog.at_level(logging.INFO, "stigmer_sessions"):
        assert reloads.run() == 2
    assert ran == ["certs", "other"]
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.getMessage() == "reload failed; keeping the previous tokens"
