"""Declarative lifecycles: the phases a resource moves through and the moves allowed.

A lifecycle is data (usually a small TOML file), so a deployment picks one without code:

.. code-block:: toml

    name = "default"
    initial = "active"
    accepts_messages = ["active"]    # phases in which the history may grow
    live = ["active"]                # phases that mean "running" when the server restarts
    recovery_phase = ""              # where live resources go at restart ("": leave them)

    [transitions]                    # from = [allowed targets]; "*" = from any other phase
    active = ["paused", "completed"]
    paused = ["active", "completed"]
    "*" = ["archived"]

Phases are listed initial first, then the table's source phases, then any other target;
error messages list a phase's allowed targets as declared, then the ``"*"`` ones.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import FailedPrecondition, InvalidArgument

ANY = "*"


@dataclass(frozen=True)
class Lifecycle:
    name: str
    initial: str
    transitions: Mapping[str, tuple[str, ...]]
    accepts_messages: frozenset[str] = frozenset()
    live: frozenset[str] = frozenset()
    recovery_phase: str = ""
    phases: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        order: dict[str, None] = {self.initial: None}
        order.update(dict.fromkeys(s for s in self.transitions if s != ANY))
        for targets in self.transitions.values():
            order.update(dict.fromkeys(targets))
        object.__setattr__(self, "phases", tuple(order))
        known = set(self.phases)
        for label, group in (("accepts_messages", self.accepts_messages), ("live", self.live)):
            if unknown := set(group) - known:
                raise ValueError(f"lifecycle {self.name!r}: {label} names unknown phases {sorted(unknown)}")
        if self.recovery_phase and self.recovery_phase not in known:
            raise ValueError(f"lifecycle {self.name!r}: unknown recovery_phase {self.recovery_phase!r}")

    def allowed_from(self, phase: str) -> tuple[str, ...]:
        """The phases ``phase`` may move to: its own list as declared, then the ``"*"`` ones."""
        targets = (*self.transitions.get(phase, ()), *self.transitions.get(ANY, ()))
        return tuple(t for t in dict.fromkeys(targets) if t != phase)

    def check_move(self, kind: str, resource_id: str, current: str, target: str) -> None:
        """InvalidArgument for an unknown phase, FailedPrecondition for an illegal move."""
        if target not in self.phases:
            raise InvalidArgument.for_field(
                "phase",
                f"{target!r} is not a phase of the {self.name!r} lifecycle "
                f"(phases: {', '.join(self.phases)})",
                "phase.unknown",
            )
        if target == current or target in self.allowed_from(current):
            return
        allowed = ", ".join(self.allowed_from(current)) or "none"
        raise FailedPrecondition(
            f"cannot move {kind} {resource_id} to {target!r}: it is in {current!r}; "
            f"allowed from {current!r}: {allowed}"
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Lifecycle:
        transitions = data.get("transitions", {})
        return cls(
            name=str(data["name"]),
            initial=str(data["initial"]),
            transitions={str(k): tuple(_strings(v)) for k, v in transitions.items()},
            accepts_messages=frozenset(_strings(data.get("accepts_messages", ()))),
            live=frozenset(_strings(data.get("live", ()))),
            recovery_phase=str(data.get("recovery_phase", "")),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Lifecycle:
        with open(path, "rb") as f:
            try:
                return cls.from_mapping(tomllib.load(f))
            except (KeyError, tomllib.TOMLDecodeError, TypeError) as exc:
                raise ValueError(f"{path}: not a lifecycle definition ({exc})") from exc


def _strings(values: Sequence[Any]) -> list[str]:
    return [str(v) for v in values]


def get_path(message: Any, path: str) -> Any:
    """``get_path(session, "state.phase")``: a dotted field of a message."""
    for part in path.split("."):
        message = getattr(message, part)
    return message


def set_path(message: Any, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        message = getattr(message, part)
    setattr(message, leaf, value)
