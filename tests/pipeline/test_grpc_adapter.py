"""pipeline.grpc_adapter.RequestLog: the spellings of --request-log, their bounds, and the
spelling a worker is handed back (its str)."""

from __future__ import annotations

import pytest

from pipeline.grpc_adapter import MAX_SAMPLE, RequestLog


@pytest.mark.parametrize(
    ("text", "every"),
    [
        ("all", 1),
        ("errors", 0),
        ("sample:1", 1),
        ("sample:25", 25),
        (" ERRORS ", 0),
        (f"sample:{MAX_SAMPLE}", MAX_SAMPLE),
    ],
)
def test_each_spelling_parses_to_its_rate(text: str, every: int) -> None:
    assert RequestLog.parse(text).every == every


@pytest.mark.parametrize(
    "text",
    [
        "",
        "none",
        "sample",
        "sample:0",
        "sample:-1",
        "sample:x",
        "sample:²",
        "sample:1.5",
        f"sample:{MAX_SAMPLE + 1}",
    ],
)
def test_anything_else_is_refused_saying_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="is not all, errors or sample:N"):
        RequestLog.parse(text)


@pytest.mark.parametrize("every", [-1, MAX_SAMPLE + 1])
def test_a_rate_out_of_bounds_cannot_be_built(every: int) -> None:
    with pytest.raises(ValueError, match=r"must be in 0\.\."):
        RequestLog(every)


@pytest.mark.parametrize("every", [0, 1, 2, 1000])
def test_str_spells_what_parse_reads(every: int) -> None:
    assert RequestLog.parse(str(RequestLog(every))) == RequestLog(every)
