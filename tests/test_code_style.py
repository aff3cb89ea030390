"""The tree is lint-clean and formatted as `pyproject.toml` configures ruff, and the typed packages
pass mypy (what pre-commit runs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> str:
    exe = Path(sys.executable).with_name("ruff")
    found = str(exe) if exe.exists() else shutil.which("ruff")
    assert found, "ruff is not installed: it comes with the dev extra (make install-dev)"
    return found


def test_ruff_lint_is_clean():
    res = subprocess.run(
        [_ruff(), "check", "--no-cache", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, f"ruff check found problems:\n{res.stdout}{res.stderr}"


def test_ruff_format_is_applied():
    res = subprocess.run(
        [_ruff(), "format", "--no-cache", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert res.returncode == 0, f"run `ruff format .`:\n{res.stdout}{res.stderr}"


def test_pre_commit_uses_the_locked_ruff():
    pinned = next(
        line.split("==")[1].split()[0]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.startswith("ruff==")
    )
    assert f"rev: v{pinned}" in (ROOT / ".pre-commit-config.yaml").read_text()


def _mypy_files() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["mypy"]["files"]


def test_mypy_covers_the_typed_packages():
    files = _mypy_files()
    assert {"workbench/models", "workbench/data"} <= set(files)
    if (ROOT / "workbench" / "metrics").is_dir():
        assert "workbench/metrics" in files, "add workbench/metrics to [tool.mypy] files"
    missing = [f for f in files if not (ROOT / f).exists()]
    assert not missing, f"[tool.mypy] files lists paths that do not exist: {missing}"


@pytest.mark.slow  # about 7 s with a warm .mypy_cache, 1-2 min without one (2 CPU cores)
def test_mypy_is_clean():
    res = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, f"mypy found problems:\n{res.stdout}{res.stderr}"
