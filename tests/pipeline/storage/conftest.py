"""Every test of this folder runs once per storage backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.storage import Storage
from tests.backends import BACKENDS, open_backend


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    with open_backend(request.param, tmp_path) as backend:
        yield backend
