"""Shared pytest fixtures: `golden` compares text with a file under tests/golden (rewritten with --update-golden)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files with the current output instead of comparing")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """`golden(relative_path, text)`: assert `text` equals the file (or rewrite it under --update-golden)."""
    update = bool(request.config.getoption("--update-golden"))

    def compare(relative: str, text: str) -> None:
        path = GOLDEN_DIR / relative
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"golden file {path} is missing; run pytest with --update-golden"
        assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"

    return compare
