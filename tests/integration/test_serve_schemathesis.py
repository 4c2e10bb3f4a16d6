"""`st run --checks all` against a real `volcast serve` finds no failure.

The service runs as a subprocess on a LightGBM champion in a SQLite registry, with an admin
token (passed to Schemathesis, so the admin endpoint is exercised and its missing-token
answer checked). Every check runs: schema-valid requests must be accepted (or answered 404,
409, 503 ... as the schema declares), invalid ones rejected, responses must conform.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import store_bars, synthetic_bars, train_and_register
from tests.support.processes import serving
from volcast.storage import Storage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "schemathesis-admin-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `volcast serve` process (one worker, OS-chosen port) on a trained champion."""
    root = tmp_path_factory.mktemp("serve-st")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    bars = synthetic_bars(1200)
    store_bars(Storage(root / "data"), bars)
    train_and_register(bars, kind="lightgbm", tracking_uri=tracking_uri)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VOLCAST_"))},
        "VOLCAST_DATA_DIR": str(root / "data"),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "VOLCAST_SERVE_HISTORY_BARS": "1200",
        "VOLCAST_ADMIN_TOKEN": TOKEN,
        "VOLCAST_ALERT_WEBHOOK_TOKEN": TOKEN,  # one token for every authenticated route
    }
    with serving(root, env) as url:
        yield url


def test_schemathesis_all_checks_find_no_failure(served: str, tmp_path: Path) -> None:
    st = Path(sys.executable).parent / "st"
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{served}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "200",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--generation-deterministic",
            "--request-timeout",
            "20",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    output = result.stdout + result.stderr
    print(output[-4000:])  # the run's summary, shown with -s or on failure
    assert result.returncode == 0, output[-8000:]
    assert "FAILURES" not in output, output[-8000:]
