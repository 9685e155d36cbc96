"""The whole table: every case of every kind and variant, for the tests to run."""

from __future__ import annotations

from tests.stigmer_sessions.promises.agent_instance_cases import AGENT_INSTANCE_CASES
from tests.stigmer_sessions.promises.cases import SESSION_CASES, Case
from tests.stigmer_sessions.promises.integrity_cases import INTEGRITY_CASES

#: Every case of every kind (a new kind appends its rows here).
CASES: tuple[Case, ...] = SESSION_CASES + AGENT_INSTANCE_CASES + INTEGRITY_CASES

#: Kind name (or ``kind+variant``) -> its operations that have a case (the suite checks
#: none is missing).
OPERATIONS: dict[str, set[str]] = {}
for _case in CASES:
    OPERATIONS.setdefault(_case.kind, set()).add(_case.operation)
