"""deploy/grafana: the dashboards are the generator's output and are structurally sound.

No Grafana server can run here, so the JSON is checked by structure: unique panel ids,
grid positions inside the 24-column grid and not overlapping, the provisioned datasource
uid on every panel and query, a query on every panel, known metric names in every query.
The queries themselves run on a real Prometheus in test_monitoring_stack_live.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from tests.deploy.promql import metric_names
from tests.deploy.test_prometheus_rules import rules
from tests.helpers import REPO_ROOT
from volcast.serving import metrics

GRAFANA = REPO_ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

# Gauges the live loop (volcast stream) exports besides the API's (issue 10's brief).
LIVE_LOOP_METRICS = {
    "forecast_loss_training_qlike",
    "decay_statistic",
    "decay_threshold",
    "decay_detected",
    "volatility_level_shift",
    "volatility_level_threshold",
    "monitoring_events",
    "monitoring_last_bar_timestamp_seconds",
}
# PromQL that Prometheus 2.42 (Debian 12) does not have.
NEWER_PROMQL = re.compile(
    r"\b(limitk|limit_ratio|info|sort_by_label|sort_by_label_desc|mad_over_time|"
    r"double_exponential_smoothing|histogram_count|histogram_sum|histogram_fraction|"
    r"histogram_stddev|histogram_stdvar|ts_of_\w+|first_over_time)\s*\("
)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("volcast_dashboards", GRAFANA / "dashboards.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def exported_metric_names() -> set[str]:
    """Sample names of every metric the API defines (src/volcast/serving/metrics.py)."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            if family.type == "counter":
                names |= {f"{family.name}_total", f"{family.name}_created"}
            elif family.type == "histogram":
                names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count", "created")}
            else:
                names.add(family.name)
    return names


def known_metric_names() -> set[str]:
    recorded = {rule["record"] for rule in rules("record")}
    return exported_metric_names() | LIVE_LOOP_METRICS | recorded | {"up", "ALERTS"}


def dashboard(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def provisioned_uid() -> str:
    provisioning = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    (source,) = provisioning["datasources"]
    assert source["type"] == "prometheus"
    uid: str = source["uid"]
    return uid


def queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expr) of every panel query, template variable and annotation of a dashboard."""
    found = [
        (f"panel {panel['title']!r}", target["expr"])
        for panel in board["panels"]
        for target in panel["targets"]
    ]
    found += [
        (f"variable {var['name']}", var["query"]["query"]) for var in board["templating"]["list"]
    ]
    found += [
        (f"annotation {item['name']!r}", item["expr"])
        for item in board["annotations"]["list"]
        if "expr" in item
    ]
    return found


def test_committed_dashboards_are_the_generators_output() -> None:
    rendered = load_generator().render()
    assert sorted(rendered) == [path.name for path in DASHBOARDS]
    for path in DASHBOARDS:
        assert path.read_text() == rendered[path.name], (
            "run uv run python deploy/grafana/dashboards.py"
        )
    # The script itself, as a person runs it: the project venv's python (it has the SDK).
    check = subprocess.run(
        [sys.executable, str(GRAFANA / "dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_provisioning_points_at_the_dashboards_and_datasource() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "volcast.yml").read_text())
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"]
    assert provisioned_uid() == load_generator().DATASOURCE.uid


def test_three_dashboards_with_unique_uids() -> None:
    uids = [dashboard(path)["uid"] for path in DASHBOARDS]
    assert sorted(uids) == ["volcast-forecast-quality", "volcast-model-data", "volcast-service"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.stem)
def test_dashboard_structure(path: Path) -> None:
    board = dashboard(path)
    uid = provisioned_uid()
    assert board["schemaVersion"] >= 39  # Grafana 11
    panels = board["panels"]
    assert panels
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        assert panel["title"], panel
        assert panel["description"], panel["title"]
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for query in panel["targets"]:
            assert query["expr"].strip(), panel["title"]
            assert query["datasource"]["uid"] == uid, panel["title"]
        refs = [query["refId"] for query in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["y"] >= 0, panel["title"]
        assert grid["h"] > 0, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]
    for item in board["templating"]["list"] + board["annotations"]["list"][1:]:
        assert item["datasource"]["uid"] == uid, item


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.stem)
def test_queries_name_known_metrics_and_2_42_promql(path: Path) -> None:
    known = known_metric_names()
    for where, expr in queries(dashboard(path)):
        if expr.startswith("label_values("):
            expr = expr.removeprefix("label_values(").rsplit(",", 1)[0]
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        assert names <= known, f"{where}: unknown metric(s) {names - known} in {expr!r}"
        assert not NEWER_PROMQL.search(expr), f"{where}: newer PromQL than 2.42: {expr!r}"


def test_rules_name_known_metrics() -> None:
    known = known_metric_names()
    for rule in rules("record") + rules("alert"):
        names = metric_names(rule["expr"])
        assert names <= known, f"{rule.get('alert') or rule['record']}: {names - known}"
        assert not NEWER_PROMQL.search(rule["expr"])


def test_dashboard_alert_lines_match_the_rules() -> None:
    generator = load_generator()
    exprs = {rule["alert"]: rule["expr"] for rule in rules("alert")}
    assert f"{generator.LOSS_VS_TRAINING} * max by" in exprs["VolcastForecastLossDegraded"]
    assert f"{generator.LOSS_VS_HAR} * max by" in exprs["VolcastForecastWorseThanHar"]
    # the detector's exported line, or the panel's dashed one where none is exported
    assert "(out_of_distribution_threshold)" in exprs["VolcastOodRatioHigh"]
    assert f"+ {generator.OOD_LINE}" in exprs["VolcastOodRatioHigh"]
    assert f"> {generator.LATENCY_LINE}" in exprs["VolcastApiLatencyHigh"]
