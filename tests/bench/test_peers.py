"""bench/peers.py: the skip line without the extra, the targets' verdicts, and (with the
extra installed) a tiny run through every peer's API. Nothing here asserts a timing."""

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as bench_main
from bench import peers
from stigmer_sessions import SessionController
from stigmer_sessions.methods import SessionMethods


def _without(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        if name == module:
            raise ModuleNotFoundError(name)  # as for a dotted name whose parent is missing
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_a_missing_peer_skips_the_section_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without("agents.memory.sqlite_session", monkeypatch)
    body = peers.section(str(tmp_path), True)
    assert "\n" not in body
    assert "skipped" in body and "openai-agents" in body and "bench-peers" in body
    assert capsys.readouterr().out.strip() == body
    assert not (tmp_path / "peers").exists()  # nothing ran


def test_only_peers_prints_the_skip_line_when_the_extra_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without("langgraph.checkpoint.sqlite", monkeypatch)
    assert bench_main._only("peers", True, write=False) == 0
    out = capsys.readouterr().out
    assert f"### {peers.TITLE}" in out
    assert "skipped" in out and "langgraph-checkpoint-sqlite" in out


def _tally(rate: float) -> peers.Tally:
    return peers.Tally(rates=[rate], samples=[1000])


def test_the_targets_say_met_missed_by_how_much_or_not_measured() -> None:
    plan = peers.Plan()
    writes, _ = peers.ops(plan)
    one, many, append, _batch = (op.label for op in writes)
    tallies = {
        (peers.OURS, append): _tally(300.0),
        (peers.OpenAi.name, append): _tally(100.0),
        (peers.LangGraph.name, append): _tally(400.0),
        (peers.OURS, one): _tally(100.0),
        (peers.LangGraph.name, one): _tally(100.0),
        (peers.OURS, many): _tally(150.0),
        (peers.LangGraph.name, many): _tally(100.0),
    }
    lines = [line for line in peers._targets(plan, tallies).splitlines() if line.startswith("| durable")]
    lines += [line for line in peers._targets(plan, tallies).splitlines() if line.startswith("| batch")]
    assert lines[0].endswith("| 3.00x | met |")  # append vs OpenAI
    assert lines[1].endswith("| 0.75x | missed by 50% |")  # append vs LangGraph: 0.75 of 1.5
    assert lines[2].endswith("| 1.00x | met |")  # create, 1 caller
    assert lines[3].endswith("| 1.50x | missed by 50% |")  # create, 16 callers: 1.5 of 3
    assert lines[4].endswith("| not measured |")  # no batch rows


@pytest.mark.skipif(bool(peers.missing()), reason="the bench-peers extra is not installed")
def test_a_tiny_run_drives_every_store_through_every_op_it_has(tmp_path: Path) -> None:
    plan = peers.Plan(
        rounds=2,
        creates=3,
        creates_many=4,
        callers=2,
        sessions=2,
        per_session=2,
        batches=1,
        batch=5,
        long=20,
        reads=2,
        latest=10,
    )
    body = peers.section(str(tmp_path), True, plan=plan)
    assert "calls failed" not in body
    for name in (peers.OURS, peers.Adk.name, peers.OpenAi.name, peers.LangGraph.name):
        assert body.count(f"| {name} |") == 7  # a row per op
    assert len(re.findall(r"journal_mode=\w+, synchronous=FULL", body)) == 3  # read back from each peer
    unmeasured = [line for line in body.splitlines() if line.endswith("| not measured |") and "≥" not in line]
    # only what a store lacks: ADK has no batch, OpenAI no listing, and ours batches only
    # once SessionController.append_messages exists
    assert all("no batch API" in line or "no listing" in line or peers.OURS in line for line in unmeasured)


def test_a_spent_read_budget_still_hands_out_the_minimum_and_no_budget_hands_out_all() -> None:
    args: list[tuple[object, ...]] = [(i,) for i in range(20)]
    spent = peers._Queue(args, budget_s=0.0)
    given = list(iter(spent.next, None))
    assert given == args[: peers.MIN_READS]
    unbounded = peers._Queue(args, budget_s=None)
    assert list(iter(unbounded.next, None)) == args


def test_ours_batches_through_append_messages_only_when_the_controller_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = peers.Plan(rounds=1, sessions=1, batches=1, batch=3, long=2)
    # the method is SessionMethods' (shared with the clients): remove it where it is defined
    monkeypatch.delattr(SessionMethods, "append_messages", raising=False)
    without = peers.Ours(tmp_path / "a", plan)
    try:
        assert without.op("batch") is None
    finally:
        without.close()
    got: list[tuple[str, list[tuple[str, str]]]] = []

    def append_messages(self: object, session_id: str, messages: list[tuple[str, str]]) -> None:
        got.append((session_id, messages))

    monkeypatch.setattr(SessionController, "append_messages", append_messages, raising=False)
    ours = peers.Ours(tmp_path / "b", plan)
    try:
        batch = ours.op("batch")
        assert batch is not None
        batch(0, 10)
    finally:
        ours.close()
    assert got == [
        (
            ours.batch_targets[0],
            [("assistant", peers.text(10)), ("user", peers.text(11)), ("assistant", peers.text(12))],
        )
    ]
