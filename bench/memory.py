"""Peak server memory while 8 large listings run at once (not a test: a figure for the docs).

The store holds a change log of big changes (sessions with 200 KB annotations) and one
conversation of 1 MiB messages. Eight clients in this process, each on its own DEFAULT
channel (4 MiB receive limit), run at once: four page through ``listChanges(page_size=1000)``,
four ``resume`` the conversation and page back through it with ``listMessages``. A sampler
reads the server's ``/proc/<pid>/status`` meanwhile. The same-run baselines are the idle
server on the same store and the same workload against a server whose budget is lifted
(1 GiB; its clients lift their receive limit too): what the byte budget saves.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench.suite import real_server
from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2_grpc,
    command_pb2_grpc,
    message_pb2_grpc,
)
from stigmer_sessions.api import (
    ApiResourceMetadata,
    ApiResourceOwnerScope,
    AppendSessionMessageRequest,
    ListSessionChangesRequest,
    ListSessionMessagesRequest,
    ResumeSessionRequest,
    Session,
    SessionMessageRole,
    SessionSpec,
)

MIB = 1024 * 1024
CLIENTS = 8
UNBOUNDED = 1024 * MIB


def sizes(quick: bool) -> tuple[int, int, int]:
    """Sessions of 200 KB annotations, 1 MiB messages, walks per client."""
    return (60, 20, 1) if quick else (150, 40, 2)


def note(quick: bool) -> str:
    """What the table measured, for the doc."""
    sessions, messages, rounds = sizes(quick)
    return (
        f"The store: {sessions} sessions with 200 KB annotations (their changes: "
        f"{sessions * 200 // 1000} MB of change log) and a conversation of {messages} messages of "
        f"1 MiB. Eight clients at once, each on a default channel (4 MiB receive limit), each "
        f"walking {rounds}x: four page through `listChanges(page_size=1000)`, four `resume` the "
        f"conversation and page back through it with `listMessages`. Baselines from the same "
        f"run: the idle server on the same store, and the same workload with the budget lifted "
        f"to 1 GiB (its clients lift their receive limit too). Peak RSS is VmHWM and includes "
        f"the LMDB pages read (file-backed, alike in both rows); peak anonymous memory is "
        f"sampled every 5 ms."
    )


@dataclass
class MemoryRow:
    server: str
    budget: int
    idle_rss: int
    peak_rss: int
    idle_anon: int
    peak_anon: int
    largest_response: int
    responses: int
    seconds: float


def _status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) and RssAnon of a process, in bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon"):
                out[name] = int(value.split()[0]) * 1024
    return out


def _seed(address: str, sessions: int, messages: int) -> str:
    """Big changes and a conversation of 1 MiB messages; returns the conversation's id."""
    with grpc.insecure_channel(address) as channel:
        command = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
        message = message_pb2_grpc.SessionMessageControllerStub(channel)  # type: ignore[no-untyped-call]
        for i in range(sessions):
            meta = ApiResourceMetadata(
                name=f"big {i}",
                org="big",
                owner_scope=ApiResourceOwnerScope.organization,
                annotations={"blob": "a" * 200_000},
            )
            command.create(Session(metadata=meta, spec=SessionSpec(agent_instance_id="ain-big")))
        meta = ApiResourceMetadata(name="talk", org="talk", owner_scope=ApiResourceOwnerScope.organization)
        talk = command.create(Session(metadata=meta, spec=SessionSpec(agent_instance_id="ain-1"))).metadata.id
        for i in range(messages):
            content = f"message {i} ".ljust(MIB, "x")
            message.appendMessage(
                AppendSessionMessageRequest(
                    session_id=talk, role=SessionMessageRole.role_user, content=content
                )
            )
    return str(talk)


def _client(address: str, kind: int, talk: str, *, rounds: int, unbounded: bool, seen: list[int]) -> None:
    """One client's walks; appends the size of every response it received to ``seen``."""
    options = [("grpc.max_receive_message_length", -1)] if unbounded else []
    with grpc.insecure_channel(address, options=options) as channel:
        for _ in range(rounds):
            if kind % 2 == 0:
                changes = change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]
                token = ""
                while True:
                    page: Any = changes.listChanges(
                        ListSessionChangesRequest(page_size=1000, page_token=token)
                    )
                    seen.append(page.ByteSize())
                    token = page.next_page_token
                    if not token:
                        break
            else:
                messages = message_pb2_grpc.SessionMessageControllerStub(channel)  # type: ignore[no-untyped-call]
                resumed = messages.resume(ResumeSessionRequest(session_id=talk))
                seen.append(resumed.ByteSize())
                token = resumed.earlier_page_token
                while token:
                    page = messages.listMessages(
                        ListSessionMessagesRequest(session_id=talk, newest_first=True, page_token=token)
                    )
                    seen.append(page.ByteSize())
                    token = page.next_page_token


def _run(data_dir: str, talk: str, budget: int, rounds: int, label: str) -> MemoryRow:
    with real_server(data_dir, "--max-response-bytes", str(budget)) as (address, pids):
        pid = pids[0]
        time.sleep(0.5)  # let start-up allocations settle
        idle = _status(pid)
        peak_anon = idle["RssAnon"]
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_anon
            while not done.is_set():
                peak_anon = max(peak_anon, _status(pid)["RssAnon"])
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        seen: list[int] = []
        options = {"rounds": rounds, "unbounded": budget > DEFAULT_MAX_RESPONSE_BYTES, "seen": seen}
        clients = [
            threading.Thread(target=_client, args=(address, k, talk), kwargs=options) for k in range(CLIENTS)
        ]
        started = time.perf_counter()
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        final = _status(pid)
        return MemoryRow(
            label,
            budget,
            idle["VmRSS"],
            final["VmHWM"],
            idle["RssAnon"],
            peak_anon,
            max(seen),
            len(seen),
            seconds,
        )


def memory(tmp: str, quick: bool) -> list[MemoryRow]:
    sessions, messages, rounds = sizes(quick)
    data_dir = str(Path(tmp) / "memory")
    with real_server(data_dir) as (address, _):
        talk = _seed(address, sessions, messages)
    return [
        _run(data_dir, talk, DEFAULT_MAX_RESPONSE_BYTES, rounds, "default budget"),
        _run(data_dir, talk, UNBOUNDED, rounds, "budget lifted (baseline)"),
    ]


def table(rows: list[MemoryRow]) -> str:
    lines = [
        "| server | response budget | idle RSS MiB | peak RSS MiB | idle anon. MiB | peak anon. MiB "
        "| largest response MiB | responses | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.server} | {r.budget / MIB:,.0f} MiB | {r.idle_rss / MIB:,.0f} | {r.peak_rss / MIB:,.0f} "
            f"| {r.idle_anon / MIB:,.0f} | {r.peak_anon / MIB:,.0f} | {r.largest_response / MIB:,.1f} "
            f"| {r.responses} | {r.seconds:.1f} |"
        )
    return "\n".join(lines)
