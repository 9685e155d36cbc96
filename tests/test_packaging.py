"""The wheel and the sdist ship every file the packages hold, not only the Python modules.

Built from a copy of the sources in a temp directory, so the checkout gets no ``build/``
directory and nothing but what the packaging declares can end up in the archives. The full
install-and-serve check of a built wheel is ``tools/wheel_check.sh`` (run by ``.ci/run``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "stigmer_sessions")


def _package_files() -> set[str]:
    """Every file under the package directories, as a path relative to the project root."""
    files = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                files.add(path.relative_to(ROOT).as_posix())
    return files


def _build(tmp_path: Path, backend_call: str) -> Path:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT, src, ignore=shutil.ignore_patterns(".*", "__pycache__", "build", "dist", "*.egg-info", "data")
    )
    out = tmp_path / "out"
    out.mkdir()
    # the build backend directly: no isolated build env to install, so it is fast and offline
    subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta as b; b.{backend_call}({str(out)!r})"],
        cwd=src,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (built,) = out.iterdir()
    return built


def test_the_wheel_holds_every_package_file(tmp_path: Path) -> None:
    wheel = _build(tmp_path, "build_wheel")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = _package_files()
    assert "stigmer_sessions/lifecycles/default.toml" in expected  # the test sees the data files
    assert sorted(expected - shipped) == []


def test_the_sdist_holds_every_package_file(tmp_path: Path) -> None:
    sdist = _build(tmp_path, "build_sdist")
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        shipped = {name.removeprefix(top + "/") for name in tar.getnames()}
    assert sorted(_package_files() - shipped) == []
