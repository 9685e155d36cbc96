"""Layering rules that keep the library reusable."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_pipeline_never_imports_stigmer_sessions() -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "pipeline").rglob("*.py")
        if p.name != "__init__.py"
    )
    code = "import importlib, sys\n"
    code += "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "assert not [m for m in sys.modules if m.startswith('stigmer_sessions')], 'imported'\n"
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert len(modules) > 20


def test_generated_code_adds_no_top_level_packages() -> None:
    result = _python(
        "import importlib.util, stigmer_sessions, stigmer_sessions.grpc_server\n"
        "print(importlib.util.find_spec('ai'), importlib.util.find_spec('buf'))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None None"


def test_console_script_help_lists_the_serve_options() -> None:
    script = Path(sys.executable).with_name("stigmer-sessions")
    commands = subprocess.run(
        [str(script), "--help"], check=False, capture_output=True, text=True, timeout=60
    )
    assert commands.returncode == 0 and "serve" in commands.stdout, commands.stderr
    result = subprocess.run(
        [str(script), "serve", "--help"], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for option in ("--address", "--data-dir", "STIGMER_SESSIONS_ADDRESS", "STIGMER_SESSIONS_DATA_DIR"):
        assert option in result.stdout


KIND_FILES = (
    "stigmer_sessions/agent_instance.py",
    "stigmer_sessions/controller/agent_instance_controller.py",
    "stigmer_sessions/resource.py",
    "stigmer_sessions/controller/session_controller.py",
)


def _adding_a_kind() -> str:
    page = (ROOT / "docs" / "architecture.md").read_text()
    return page.split("## Adding a resource kind", 1)[1].split("\n## ", 1)[0]


def test_the_add_a_kind_guide_quotes_the_code_as_it_is() -> None:
    sources = [(ROOT / f).read_text() for f in KIND_FILES]
    blocks = re.findall(r"```python\n(.*?)\n *```", _adding_a_kind(), flags=re.S)
    assert len(blocks) == 4
    for block in blocks:
        code = "\n".join(line.removeprefix("   ") for line in block.splitlines())
        assert any(code in source for source in sources), f"architecture.md quotes code that is gone:\n{code}"


def test_agent_instance_takes_as_little_kind_specific_code_as_the_guide_says() -> None:
    resource = (ROOT / "stigmer_sessions" / "resource.py").read_text()
    block = resource[resource.index('AGENT_INDEX = "agent"') :].count("\n")
    own = sum((ROOT / f).read_text().count("\n") for f in KIND_FILES[:2])
    assert "163 lines together" in _adding_a_kind()
    assert own + block <= 165, own + block
