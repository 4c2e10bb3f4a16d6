"""deploy/prometheus: the config and rules pass promtool, every alert is complete and tested.

promtool is the Debian ``prometheus`` package's (scripts/install-system-deps.sh); these
tests skip without it, or fail under VOLCAST_REQUIRE_SYSTEM_DEPS=1.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT, require_binary
from volcast.schemas import interval_seconds

PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
SEVERITIES = {"critical", "warning"}


def rules(kind: str) -> list[dict[str, Any]]:
    """Every rule of ``kind`` ("alert" or "record") in deploy/prometheus/rules."""
    found = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [rule for rule in group["rules"] if kind in rule]
    return found


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )


def test_config_passes_promtool() -> None:
    result = promtool("check", "config", PROMETHEUS / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_scrapes_api_and_stream_and_alerts_to_alertmanager() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"volcast-api", "volcast-stream"} <= jobs
    assert config["rule_files"] == ["rules/*.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]


def test_rules_pass_promtool() -> None:
    assert RULES
    result = promtool("check", "rules", *RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = promtool("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_recording_rules_cover_rate_errors_and_latency() -> None:
    names = {rule["record"] for rule in rules("record")}
    assert {
        "job:api_requests:rate5m",
        "job:api_request_errors:ratio_rate5m",
        "job:api_request_latency_seconds:p95_5m",
    } <= names


def test_alerts_required_by_the_spec_exist() -> None:
    names = {rule["alert"] for rule in rules("alert")}
    assert names == {
        "VolcastTargetDown",
        "VolcastApiLatencyHigh",
        "VolcastRegistryUnreachable",
        "VolcastNoChampion",
        "VolcastDataStale",
        "VolcastOodRatioHigh",
        "VolcastForecastLossDegraded",
        "VolcastForecastWorseThanHar",
        "VolcastRetrainFailed",
    }


@pytest.mark.parametrize("rule", rules("alert"), ids=lambda rule: rule["alert"])
def test_alert_has_severity_annotations_and_a_runbook(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    assert annotations["runbook_url"] == f"docs/runbooks/{rule['alert']}.md"
    page = REPO_ROOT / annotations["runbook_url"]
    assert page.is_file(), f"missing runbook {page}"
    text = page.read_text()
    assert rule["alert"] in text
    for heading in ("## What it means", "## How to check", "## How to fix"):
        assert heading in text, f"{page.name} lacks {heading!r}"


def test_every_runbook_belongs_to_an_alert() -> None:
    names = {rule["alert"] for rule in rules("alert")}
    pages = {path.stem for path in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == names


def _tested_alerts(path: Path) -> dict[str, set[str]]:
    """alertname -> kinds of expectation in one promtool test file ("firing", "quiet")."""
    seen: dict[str, set[str]] = {}
    for case in yaml.safe_load(path.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            kinds = seen.setdefault(check["alertname"], set())
            kinds.add("firing" if check.get("exp_alerts") else "quiet")
    return seen


def test_every_alert_has_unit_tests_firing_and_quiet() -> None:
    seen: dict[str, set[str]] = {}
    for path in RULE_TESTS:
        for name, kinds in _tested_alerts(path).items():
            seen.setdefault(name, set()).update(kinds)
    for rule in rules("alert"):
        assert seen.get(rule["alert"]) == {"firing", "quiet"}, rule["alert"]


def test_bar_interval_table_matches_volcast_intervals() -> None:
    table = {
        rule["labels"]["interval"]: int(re.fullmatch(r"vector\((\d+)\)", rule["expr"])[1])  # type: ignore[index]
        for rule in rules("record")
        if rule["record"] == "volcast:bar_interval_seconds"
    }
    for interval, seconds in table.items():
        assert interval_seconds(interval) == seconds, interval
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    configured = {item["interval"] for item in params.get("instruments") or []}
    configured.add(params["data"]["interval"])
    assert configured <= set(table), f"add {configured - set(table)} to rules/recording.yml"
