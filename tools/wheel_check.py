"""CI: does the package work when installed from its wheel, far from the checkout?

Builds the wheel from a copy of the sources, installs it into a FRESH venv, and from a temp
directory (so nothing resolves to the checkout) imports the package, runs
``stigmer-sessions --version``, starts ``stigmer-sessions serve`` on port 0 with a temp
data dir, serves one Create over gRPC with a client using the installed package, and stops
the server with SIGTERM. Exits non-zero with the failing step's output on any failure.

Usage: ``python tools/wheel_check.py`` (``.ci/run`` calls it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Runs inside the fresh venv, in a temp directory: everything it imports is installed.
CLIENT = r"""
import json, os, signal, subprocess, sys
from importlib import metadata
from pathlib import Path

import grpc
import stigmer_sessions
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc
from stigmer_sessions.api import ApiResourceMetadata, Session, SessionSpec
from stigmer_sessions.config import load_lifecycle

venv_dir = Path(sys.argv[1]).resolve()
assert Path(stigmer_sessions.__file__).resolve().is_relative_to(venv_dir), stigmer_sessions.__file__
assert load_lifecycle("worker").name == "worker"  # the shipped data files are there
command = str(venv_dir / "bin" / "stigmer-sessions")
version = subprocess.run([command, "--version"], check=True, capture_output=True, text=True).stdout
assert version.split() == ["stigmer-sessions", metadata.version("stigmer-sessions")], version
server = subprocess.Popen(
    [command, "serve", "--address", "127.0.0.1:0", "--data-dir", "data"], stderr=subprocess.PIPE, text=True
)
try:
    for line in server.stderr:
        event = json.loads(line)
        if event["msg"] == "serving":
            break
    else:
        raise SystemExit("the server did not start")
    with grpc.insecure_channel(event["address"]) as channel:
        stub = command_pb2_grpc.SessionCommandControllerStub(channel)
        meta = ApiResourceMetadata(name="Wheel check", org="acme", owner_scope=2)
        created = stub.create(Session(metadata=meta, spec=SessionSpec(agent_instance_id="ain-1")), timeout=30)
    assert created.metadata.id.startswith("ses-"), created
finally:
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=60)
assert code == 0, f"the server exited with {code}"
print(f"wheel check ok: {version.strip()} served create {created.metadata.id}")
"""


def _run(args: list[str], **kwargs: object) -> str:
    """Run one step quietly; on failure show its output and stop."""
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.stderr.write(f"wheel check: {' '.join(args)[:200]} failed ({result.returncode})\n")
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(1)
    return str(result.stdout)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="wheel-check-") as tmp:
        work = Path(tmp)
        src = work / "src"
        ignore = shutil.ignore_patterns(".*", "__pycache__", "build", "dist", "*.egg-info", "data")
        shutil.copytree(ROOT, src, ignore=ignore)
        dist = work / "dist"
        # the build backend directly, with the build tools of this environment (no network)
        build = f"from setuptools import build_meta as b; print(b.build_wheel({str(dist)!r}))"
        dist.mkdir()
        _run([sys.executable, "-c", build], cwd=src)
        (wheel,) = dist.glob("*.whl")
        env_dir = work / "venv"
        venv.create(env_dir, with_pip=True)
        python = str(env_dir / "bin" / "python")
        _run([python, "-m", "pip", "install", "--quiet", str(wheel)])
        run_dir = work / "run"
        run_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        print(_run([python, "-c", CLIENT, str(env_dir)], cwd=run_dir, env=env, timeout=300), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
