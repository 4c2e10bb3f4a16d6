"""deploy/alertmanager: the config passes amtool, the routing tree sends every alert where
docs/alerting.md says, and a real Alertmanager delivers, groups and inhibits as configured.

amtool and Alertmanager come from the Debian ``prometheus-alertmanager`` package
(scripts/install-system-deps.sh); the tests skip without them, or fail under
VOLCAST_REQUIRE_SYSTEM_DEPS=1.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.servers import (
    ALERTMANAGER,
    WEBHOOK_PATH,
    local_alertmanager_config,
    logged_alerts,
    recording_server,
    running_alert_log,
    running_alertmanager,
)
from tests.deploy.test_prometheus_rules import rules
from tests.helpers import require_binary
from tests.support.processes import wait_for

CONFIG = ALERTMANAGER / "alertmanager.yml"
TOKEN_FILE = "secrets/volcast-alert-webhook-token"


def amtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("amtool")
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return loaded


def test_config_passes_amtool() -> None:
    result = amtool("check-config", CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 receivers" in result.stdout


def _expected_receivers(labels: dict[str, str]) -> list[str]:
    expected = ["volcast-retrain"] if labels.get("action") == "retrain" else []
    return [*expected, labels.get("severity", "warning")]


@pytest.mark.parametrize("rule", rules("alert"), ids=lambda rule: rule["alert"])
def test_every_alert_routes_by_severity_and_retrain_action(rule: dict[str, Any]) -> None:
    labels = {"alertname": rule["alert"], **rule["labels"], "symbol": "EUR/USD", "interval": "1h"}
    expected = _expected_receivers(labels)
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={','.join(expected)}",
        *(f"{key}={value}" for key, value in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ",".join(expected)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"alertname": "Unknown"}, "warning"),
        ({"alertname": "Unknown", "severity": "info"}, "warning"),
        ({"alertname": "VolcastOodRatioHigh", "action": "retrain"}, "volcast-retrain,warning"),
        (
            {"alertname": "X", "severity": "critical", "action": "retrain"},
            "volcast-retrain,critical",
        ),
    ],
)
def test_routing_tree_edges(labels: dict[str, str], expected: str) -> None:
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={expected}",
        *(f"{key}={value}" for key, value in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_retrain_webhook_is_authenticated_and_optional_receivers_read_secret_files() -> None:
    receivers = {receiver["name"]: receiver for receiver in config()["receivers"]}
    (webhook,) = receivers["volcast-retrain"]["webhook_configs"]
    assert webhook["url"].endswith(WEBHOOK_PATH)
    assert webhook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": TOKEN_FILE,
    }
    assert receivers["slack"]["slack_configs"][0]["api_url_file"].startswith("secrets/")
    assert receivers["email"]["email_configs"][0]["auth_password_file"].startswith("secrets/")
    text = CONFIG.read_text()
    assert "hooks.slack.com" not in text
    assert "password:" not in text.replace("auth_password_file:", "")


@pytest.mark.parametrize(
    "name",
    ["volcast.slack.title", "volcast.slack.text", "volcast.email.subject", "volcast.email.text"],
)
def test_notification_templates_render(name: str) -> None:
    result = amtool(
        "template",
        "render",
        f"--template.glob={ALERTMANAGER / 'templates' / '*.tmpl'}",
        f'--template.text={{{{ template "{name}" . }}}}',
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip()


def test_target_down_inhibits_the_alerts_of_its_target() -> None:
    (rule,) = [
        rule
        for rule in config()["inhibit_rules"]
        if rule["source_matchers"] == ['alertname="VolcastTargetDown"']
    ]
    assert rule["equal"] == ["job", "instance"]


# --- a real Alertmanager ---------------------------------------------------------------


@pytest.fixture
def alert_log(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with running_alert_log(tmp_path) as running:
        yield running


def _alert(name: str, **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} test", "runbook_url": f"docs/runbooks/{name}.md"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }


@pytest.mark.integration
@pytest.mark.slow
def test_real_alertmanager_delivers_groups_and_inhibits(
    tmp_path: Path, alert_log: tuple[str, Path]
) -> None:
    log_url, log_file = alert_log
    with recording_server() as (webhook_url, received):
        cfg = local_alertmanager_config(tmp_path / "am", log_url=log_url, webhook_url=webhook_url)
        with running_alertmanager(tmp_path, cfg) as url:
            target = {"job": "volcast-api", "instance": "127.0.0.1:8000"}
            alerts = [
                _alert("VolcastTargetDown", severity="critical", **target),
                _alert("VolcastRegistryUnreachable", severity="warning", **target),
                _alert(
                    "VolcastForecastLossDegraded",
                    severity="warning",
                    action="retrain",
                    symbol="EUR/USD",
                    interval="1h",
                ),
            ]
            response = httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=10)
            assert response.status_code == 200, response.text

            # the retrain-worthy alert reaches the volcast webhook, with the bearer token
            (path, headers, body) = wait_for(received.snapshot, what="the volcast webhook")[0]
            assert path == WEBHOOK_PATH
            assert headers["Authorization"] == "Bearer s3cret-test-token"
            assert body["receiver"] == "volcast-retrain"
            assert [a["labels"]["alertname"] for a in body["alerts"]] == [
                "VolcastForecastLossDegraded"
            ]
            assert body["groupLabels"] == {
                "alertname": "VolcastForecastLossDegraded",
                "symbol": "EUR/USD",
                "interval": "1h",
            }

            # the people's receivers log the critical and the warning, each on its channel
            def logged_channels() -> dict[str, set[str]] | None:
                seen: dict[str, set[str]] = {}
                for channel, labels in logged_alerts(log_file):
                    seen.setdefault(channel, set()).add(labels["alertname"])
                return seen if len(seen) == 2 else None

            channels = wait_for(logged_channels, what="the alert log")
            assert channels == {
                "critical": {"VolcastTargetDown"},
                "warning": {"VolcastForecastLossDegraded"},
            }

            # the registry alert of the down target is inhibited, and was never sent
            states = {
                a["labels"]["alertname"]: a["status"]
                for a in httpx.get(f"{url}/api/v2/alerts", timeout=10).json()
            }
            assert states["VolcastRegistryUnreachable"]["state"] == "suppressed"
            assert states["VolcastRegistryUnreachable"]["inhibitedBy"]
            assert states["VolcastTargetDown"]["state"] == "active"
            time.sleep(2.5)  # one more group interval: still nothing about the inhibited alert
            assert all(
                "VolcastRegistryUnreachable" not in names
                for names in (logged_channels() or {}).values()
            )
