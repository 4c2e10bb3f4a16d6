"""The Dockerfile passes hadolint and keeps its promises (multi-stage, slim, non-root)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, require_binary

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"


def _hadolint() -> str:
    bundled = Path(sys.executable).parent / "hadolint"
    return (
        str(bundled)
        if bundled.exists()
        else (shutil.which("hadolint") or require_binary("hadolint"))
    )


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_slim_non_root_with_healthcheck() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert all("slim" in stage for stage in stages)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in {"0", "root"}
    assert any(line.startswith("HEALTHCHECK") for line in lines)


@pytest.mark.parametrize("kept", ["pyproject.toml", "uv.lock", "src/", "params.yaml"])
def test_dockerignore_keeps_only_what_the_build_copies(kept: str) -> None:
    rules = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert "**" in rules
    assert f"!{kept}" in rules
