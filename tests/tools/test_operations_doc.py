"""docs/operations.md says exactly which steps each operation runs (tools/operations_doc.py)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.tools import TOOLS, load_tool

TOOL = TOOLS / "operations_doc.py"


def _load() -> ModuleType:
    return load_tool("operations_doc")


def test_the_committed_page_lists_what_every_operation_runs() -> None:
    tool = _load()
    assert tool.main(["--check"]) == 0, "docs/operations.md is stale: run python tools/operations_doc.py"
    page = tool.PAGE.read_text()
    for kind in tool._kinds(tool.SessionConfig()).values():
        for name, pipeline in kind.pipelines.items():
            assert f"### `{name}`" in page and " → ".join(pipeline.step_names) in page


def test_a_step_the_page_does_not_list_makes_the_check_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    tool = _load()
    kinds = tool._kinds

    def one_step_fewer(config: object) -> dict[str, Any]:
        services: dict[str, Any] = kinds(config)
        session = services["session"]
        session.pipelines["create"] = session.pipelines["create"].without(0)
        return services

    monkeypatch.setattr(tool, "_kinds", one_step_fewer)
    assert tool.main(["--check"]) == 1
