#!/usr/bin/env python3
"""The volcast Grafana dashboards as code: ``uv run python deploy/grafana/dashboards.py`` writes
``deploy/grafana/dashboards/*.json`` (Grafana 11 dashboard JSON).

Three dashboards (SPEC 14), described panel by panel in docs/alerting.md:
- ``volcast-service``: traffic, errors, latency percentiles, replicas, firing alerts;
- ``volcast-model-data``: champion in service, registry, drift, OOD, PSI per feature,
  feature mean shift, data freshness, data events;
- ``volcast-forecast-quality``: forecasts, rolling QLIKE against HAR and the training level,
  decay statistics against their thresholds, monitoring events; retrains and promotions as
  annotations.

Built with ``grafana-foundation-sdk`` (the dev dependency group pins its Grafana 11.6 schema
release, ``1769699379!11.6.0``: the newest-looking version number targets Grafana 10.1), whose
builders lay the panels out on the grid and whose JSON encoder serialises them; the
``schemaVersion`` is that release's. The SDK's annotation model has no field for the
Prometheus annotation options (step, title and text formats, tag keys), so
``PrometheusAnnotation`` adds them to its JSON. Every query names the provisioned datasource
uid (provisioning/datasources/prometheus.yml) and uses PromQL of Prometheus 2.42.
``tests/deploy/test_grafana.py`` checks that the committed JSON is this script's output, and
its structure; ``tests/deploy/test_monitoring_stack_live.py`` runs every query on a real
Prometheus scraping a real ``volcast serve``. ``--check`` exits 1 when the files differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import prometheus as prometheus_builder
from grafana_foundation_sdk.builders import stat as stat_builder
from grafana_foundation_sdk.builders import table as table_builder
from grafana_foundation_sdk.builders import timeseries as timeseries_builder
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, prometheus
from grafana_foundation_sdk.models import dashboard as model

DATASOURCE_UID = "volcast-prometheus"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
OUT = Path(__file__).resolve().parent / "dashboards"
WIDTH = 24  # Grafana's grid is 24 columns wide

SERIES = 'symbol=~"$symbol", interval=~"$interval"'
# Loss alert lines, as in deploy/prometheus/rules/alerts.yml (keep them in step).
LOSS_VS_TRAINING = 2
LOSS_VS_HAR = 1.1
OOD_LINE = 0.15
PSI_LINE = 0.25
LATENCY_LINE = 0.5
# The SDK's builders of the panel kinds used here.
PanelBuilder = timeseries_builder.Panel | stat_builder.Panel | table_builder.Panel


def target(
    expr: str, legend: str = "", *, ref: str = "A", instant: bool = False
) -> prometheus_builder.Dataquery:
    query = (
        prometheus_builder.Dataquery()
        .datasource(DATASOURCE)
        .ref_id(ref)
        .expr(expr)
        .legend_format(legend or "__auto")
        .editor_mode(prometheus.QueryEditorMode.CODE)
    )
    return query.instant() if instant else query.range()


def _thresholds(line: float | None) -> dashboard_builder.ThresholdsConfig:
    steps = [model.Threshold(value=None, color="green")]
    if line is not None:
        steps.append(model.Threshold(value=line, color="red"))
    return dashboard_builder.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)


def timeseries(
    title: str,
    description: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "short",
    line: float | None = None,
    bars: bool = False,
    width: int = 12,
    height: int = 8,
) -> PanelBuilder:
    """A time-series panel; ``line`` draws the alert threshold as a red dashed line."""
    threshold_mode = (
        common.GraphThresholdsStyleMode.DASHED
        if line is not None
        else common.GraphThresholdsStyleMode.OFF
    )
    return (
        timeseries_builder.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(
            [
                target(expr, legend, ref=chr(ord("A") + i))
                for i, (expr, legend) in enumerate(targets)
            ]
        )
        .unit(unit)
        .draw_style(common.GraphDrawStyle.BARS if bars else common.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(60 if bars else 10)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .thresholds_style(common_builder.GraphThresholdsStyleConfig().mode(threshold_mode))
        .thresholds(_thresholds(line))
        .legend(
            common_builder.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builder.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .span(width)
        .height(height)
    )


def stat(
    title: str,
    description: str,
    expr: str,
    legend: str = "",
    *,
    unit: str = "short",
    line: float | None = None,
    width: int = 6,
    height: int = 4,
) -> PanelBuilder:
    """A single-value panel of the latest value; red at or above ``line``."""
    return (
        stat_builder.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([target(expr, legend, instant=True)])
        .unit(unit)
        .thresholds(_thresholds(line))
        .reduce_options(
            common_builder.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)
        )
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.AUTO)
        .span(width)
        .height(height)
    )


def table(title: str, description: str, expr: str, *, width: int = 12) -> PanelBuilder:
    """A table of the labels of an instant query (one row per series)."""
    return (
        table_builder.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets([target(expr, instant=True).format(prometheus.PromQueryFormat.TABLE)])
        .overrides([])
        .show_header(True)
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {"Time": True, "__name__": True}},
            )
        )
        .span(width)
        .height(8)
    )


def variable(
    name: str, label: str, query: str, *, all_value: str = ".*"
) -> dashboard_builder.QueryVariable:
    """A multi-value variable of label values, "All" selected."""
    return (
        dashboard_builder.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query({"query": query, "refId": f"{name}-values"})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .multi(True)
        .all_value(all_value)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


class PrometheusAnnotation(model.AnnotationQuery):
    """An annotation query on Prometheus, with the datasource's options the SDK model lacks."""

    def __init__(self, name: str, expr: str, color: str) -> None:
        super().__init__(name=name, datasource=DATASOURCE, icon_color=color, expr=expr)
        self.hide = None
        self.built_in = None

    def to_json(self) -> dict[str, object]:
        return super().to_json() | {
            "step": "1m",
            "titleFormat": self.name,
            "textFormat": "{{symbol}} {{interval}}",
            "tagKeys": "symbol,interval,event",
            "useValueForTime": False,
        }


class AnnotationBuilder(Builder[model.AnnotationQuery]):
    """Hands a ready annotation to the dashboard builder."""

    def __init__(self, annotation: model.AnnotationQuery) -> None:
        self._annotation = annotation

    def build(self) -> model.AnnotationQuery:
        return self._annotation


def annotation(name: str, expr: str, color: str) -> Builder[model.AnnotationQuery]:
    return AnnotationBuilder(PrometheusAnnotation(name, expr, color))


def builtin_annotation() -> Builder[model.AnnotationQuery]:
    return (
        dashboard_builder.AnnotationQuery()
        .name("Annotations & Alerts")
        .built_in(1)
        .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
    )


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[PanelBuilder],
    *,
    variables: list[Builder[model.VariableModel]],
    annotations: list[Builder[model.AnnotationQuery]] | None = None,
) -> model.Dashboard:
    """The dashboard: the SDK's builder places the panels left to right, starting a new row when
    one is full; they are numbered from 1."""
    board = (
        dashboard_builder.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["volcast"])
        .timezone("utc")
        .readonly()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-6h", "now")
        .version(1)
        .annotations([builtin_annotation(), *(annotations or [])])
        .variables(variables)
        .link(
            dashboard_builder.DashboardLink("volcast")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["volcast"])
            .as_dropdown(True)
        )
    )
    for number, panel in enumerate(panels, start=1):
        board.with_panel(panel.id(number))
    built = board.build()
    # The builder wraps after a row is full, not before a panel that does not fit: keep the
    # widths of each row summing to the grid's width.
    for placed in built.panels or []:
        grid = placed.grid_pos
        if grid is None or grid.x + grid.w > WIDTH:
            raise ValueError(f"{uid}: panel {placed.title!r} does not fit in the grid")
    return built


def series_variables() -> list[Builder[model.VariableModel]]:
    return [
        variable("symbol", "Symbol", "label_values(data_freshness_seconds, symbol)"),
        variable(
            "interval",
            "Interval",
            'label_values(data_freshness_seconds{symbol=~"$symbol"}, interval)',
        ),
    ]


def service() -> model.Dashboard:
    job = 'job=~"$job"'
    panels = [
        stat(
            "Targets up",
            "Scrape targets answering, per job (API replicas, stream workers).",
            'sum by (job) (up{job=~"volcast-.*"})',
            "{{job}}",
        ),
        stat(
            "Requests per second",
            "All requests to the API, all replicas (recording rule job:api_requests:rate5m).",
            f"sum(job:api_requests:rate5m{{{job}}})",
            unit="reqps",
        ),
        stat(
            "5xx ratio",
            "Share of requests answered with a server error over 5 minutes.",
            f"max(job:api_request_errors:ratio_rate5m{{{job}}})",
            unit="percentunit",
            line=0.01,
        ),
        stat(
            "p95 latency",
            "95th percentile of request latency over 5 minutes; the alert line is 500 ms.",
            f"max(job:api_request_latency_seconds:p95_5m{{{job}}})",
            unit="s",
            line=LATENCY_LINE,
        ),
        timeseries(
            "Requests per second by route",
            "Request rate per route template, all replicas summed.",
            [(f"job_route:api_requests:rate5m{{{job}}}", "{{route}}")],
            unit="reqps",
        ),
        timeseries(
            "Requests per second by status",
            "Request rate per HTTP status: 4xx are bad input (the caller's), 5xx are ours.",
            [(f"job_status:api_requests:rate5m{{{job}}}", "{{status}}")],
            unit="reqps",
        ),
        timeseries(
            "Latency percentiles",
            "p50, p95 and p99 of request latency over 5 minutes; dashed: the 500 ms alert line.",
            [
                (f"job:api_request_latency_seconds:p50_5m{{{job}}}", "p50"),
                (f"job:api_request_latency_seconds:p95_5m{{{job}}}", "p95"),
                (f"job:api_request_latency_seconds:p99_5m{{{job}}}", "p99"),
            ],
            unit="s",
            line=LATENCY_LINE,
        ),
        timeseries(
            "p95 latency by route",
            "Which route is slow.",
            [(f"job_route:api_request_latency_seconds:p95_5m{{{job}}}", "{{route}}")],
            unit="s",
            line=LATENCY_LINE,
        ),
        timeseries(
            "5xx ratio",
            "Share of requests answered with a 5xx over 5 minutes.",
            [(f"job:api_request_errors:ratio_rate5m{{{job}}}", "{{job}}")],
            unit="percentunit",
        ),
        timeseries(
            "Requests per second by replica",
            "Load per API replica (each replica merges its workers' counters).",
            [
                (
                    f"sum by (instance) (rate(api_requests_total{{{job}}}[$__rate_interval]))",
                    "{{instance}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "Forecasts served",
            "Forecasts returned per series and input mode (by symbol, or explicit features).",
            [
                (
                    "sum by (symbol, interval, mode) (rate(predictions_total[$__rate_interval]))",
                    "{{symbol}} {{interval}} {{mode}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "Forecast errors",
            "Forecast requests that failed after validation, by reason.",
            [
                (
                    "sum by (symbol, interval, reason) "
                    "(rate(prediction_errors_total[$__rate_interval]))",
                    "{{symbol}} {{interval}} {{reason}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "Uptime",
            "Seconds since the longest-running worker of each replica started; drops are restarts.",
            [(f"service_uptime_seconds{{{job}}}", "{{instance}}")],
            unit="s",
        ),
        timeseries(
            "volcast alerts",
            "Alerts pending or firing in Prometheus (the ALERTS series), by name and state.",
            [
                (
                    'count by (alertname, alertstate) (ALERTS{alertname=~"Volcast.*"})',
                    "{{alertname}} {{alertstate}}",
                )
            ],
        ),
    ]
    job_variable = variable(
        "job", "API job", "label_values(api_requests_total, job)", all_value="volcast-api.*"
    )
    return dashboard(
        "volcast-service",
        "volcast service",
        "The forecast API: traffic, errors, latency percentiles, replicas, alerts.",
        panels,
        variables=[job_variable],
    )


def model_data() -> model.Dashboard:
    panels = [
        table(
            "Champion in service",
            "The model version each API replica serves per series (model_info == 1).",
            f"model_info{{{SERIES}}} == 1",
        ),
        stat(
            "Champion version",
            "Registry version of the model in service, per series.",
            f"max by (symbol, interval) (model_version{{{SERIES}}})",
            "{{symbol}} {{interval}}",
            height=8,
        ),
        stat(
            "Registry reachable",
            "1 when every replica's last poll of the MLflow registry succeeded.",
            "min(model_registry_up)",
            height=8,
        ),
        timeseries(
            "Data freshness",
            "Age of the latest stored bar per series (freshest replica); dashed per series: the "
            "2-bar stale line of its interval.",
            [
                (
                    f"min by (symbol, interval) (data_freshness_seconds{{{SERIES}}})",
                    "{{symbol}} {{interval}}",
                ),
                (
                    f"min by (symbol, interval) (data_freshness_seconds{{{SERIES}}}) * 0 "
                    "+ on (interval) group_left () (2 * volcast:bar_interval_seconds)",
                    "stale line {{interval}}",
                ),
            ],
            unit="s",
        ),
        timeseries(
            "Stream worker: age of the last processed bar",
            "Now minus the last bar the stream worker processed (its forecast loop's cursor).",
            [
                (
                    "time() - max by (symbol, interval) "
                    f"(monitoring_last_bar_timestamp_seconds{{{SERIES}}})",
                    "{{symbol}} {{interval}}",
                )
            ],
            unit="s",
        ),
        timeseries(
            "Out-of-distribution ratio",
            "Share of recent feature rows outside the training range; 'line': the drift "
            "detector's line, which the alert uses (the stream worker's comes from the "
            "champion's training history); dashed: 0.15, the line where none is exported.",
            [
                (
                    f"max by (symbol, interval) (out_of_distribution_ratio{{{SERIES}}})",
                    "{{symbol}} {{interval}}",
                ),
                (
                    f"max by (symbol, interval) (out_of_distribution_threshold{{{SERIES}}})",
                    "line {{symbol}} {{interval}}",
                ),
            ],
            unit="percentunit",
            line=OOD_LINE,
        ),
        timeseries(
            "Drift detected",
            "1 while the input-drift detector alarms.",
            [
                (
                    f"max by (symbol, interval) (drift_detected{{{SERIES}}})",
                    "{{symbol}} {{interval}}",
                )
            ],
        ),
        timeseries(
            "PSI per feature",
            "Population stability index of each feature over the drift window; dashed: 0.25.",
            [(f"max by (feature) (feature_psi{{{SERIES}}})", "{{feature}}")],
            line=PSI_LINE,
        ),
        timeseries(
            "Feature mean shift",
            "Recent mean of each feature minus its training mean, in training standard deviations.",
            [(f"max by (feature) (feature_mean_shift{{{SERIES}}})", "{{feature}}")],
        ),
        timeseries(
            "Data events per hour",
            "bar_rejected (the quality gate refused a bar) and source_error (the source failed "
            "after its retries) in the stream worker's events.jsonl.",
            [
                (
                    "sum by (symbol, interval, event) (increase(monitoring_events"
                    f'{{{SERIES}, event=~"bar_rejected|source_error"}}[1h]))',
                    "{{symbol}} {{interval}} {{event}}",
                )
            ],
            bars=True,
            width=24,
        ),
    ]
    return dashboard(
        "volcast-model-data",
        "volcast model and data",
        "What the API serves and what it is fed: champion, registry, drift, OOD, PSI, freshness.",
        panels,
        variables=series_variables(),
    )


def forecast_quality() -> model.Dashboard:
    model = f'forecast_loss_qlike{{{SERIES}, forecaster="model"}}'
    har = f'forecast_loss_qlike{{{SERIES}, forecaster="har"}}'
    training = f"forecast_loss_training_qlike{{{SERIES}}}"
    by = "max by (symbol, interval)"
    panels = [
        timeseries(
            "Forecast variance",
            "The latest next-bar variance forecast per series (what /predict answers).",
            [(f"{by} (prediction_variance{{{SERIES}}})", "{{symbol}} {{interval}}")],
            unit="short",
            width=24,
        ),
        timeseries(
            "Rolling QLIKE: champion vs HAR vs training level",
            "Rolling realized QLIKE of the champion and of the HAR baseline on the same bars, "
            "the champion's out-of-sample QLIKE at training, and the alert line "
            f"{LOSS_VS_TRAINING}x it.",
            [
                (f"{by} ({model})", "champion {{symbol}} {{interval}}"),
                (f"{by} ({har})", "HAR {{symbol}} {{interval}}"),
                (f"{by} ({training})", "training level {{symbol}} {{interval}}"),
                (f"{LOSS_VS_TRAINING} * {by} ({training})", "alert line {{symbol}} {{interval}}"),
            ],
        ),
        timeseries(
            "Champion / HAR loss ratio",
            "Champion QLIKE over HAR QLIKE on the same bars: below 1 the champion wins; dashed: "
            f"the {LOSS_VS_HAR} alert line.",
            [(f"{by} ({model}) / {by} ({har})", "{{symbol}} {{interval}}")],
            line=LOSS_VS_HAR,
        ),
        timeseries(
            "Decay statistics vs threshold",
            "The stream worker's decay CUSUMs (surprise: against the champion's own level; "
            "relative: against HAR) and the thresholds they alarm at.",
            [
                (f"decay_statistic{{{SERIES}}}", "{{detector}} {{symbol}} {{interval}}"),
                (f"decay_threshold{{{SERIES}}}", "threshold {{detector}} {{symbol}} {{interval}}"),
            ],
        ),
        timeseries(
            "Volatility level step vs line",
            "The stream worker's volatility-level statistic (mean log realized variance of the "
            "last bars less what its regression predicted; 0 = as expected) and the upward "
            "line it raises drift at.",
            [
                (f"volatility_level_shift{{{SERIES}}}", "level {{symbol}} {{interval}}"),
                (f"volatility_level_threshold{{{SERIES}}}", "line {{symbol}} {{interval}}"),
            ],
        ),
        timeseries(
            "Decay and drift detected",
            "1 while a decay detector alarms, or the input-drift or volatility-level detector.",
            [
                (f"{by} (decay_detected{{{SERIES}}})", "decay {{symbol}} {{interval}}"),
                (f"{by} (drift_detected{{{SERIES}}})", "drift {{symbol}} {{interval}}"),
            ],
        ),
        timeseries(
            "Monitoring events per hour",
            "Events of the stream worker's events.jsonl by kind: drift, decay, retrain_started, "
            "retrain_done, retrain_failed, promoted, rejected, bar_rejected, source_error.",
            [
                (
                    f"sum by (event) (increase(monitoring_events{{{SERIES}}}[1h]))",
                    "{{event}}",
                )
            ],
            bars=True,
        ),
        stat(
            "Retrains (24 h)",
            "Retrains started in the last 24 hours.",
            f'sum(increase(monitoring_events{{{SERIES}, event="retrain_started"}}[24h]))',
        ),
        stat(
            "Promotions (24 h)",
            "New champions crowned in the last 24 hours.",
            f'sum(increase(monitoring_events{{{SERIES}, event="promoted"}}[24h]))',
        ),
        stat(
            "Failed retrains (24 h)",
            "Retrains that failed in the last 24 hours.",
            f'sum(increase(monitoring_events{{{SERIES}, event="retrain_failed"}}[24h]))',
            line=1,
        ),
        stat(
            "Feedback per second",
            "Realized values received on /feedback (what the API's own rolling loss is fed).",
            f"sum(rate(feedback_total{{{SERIES}}}[$__rate_interval]))",
            unit="reqps",
        ),
    ]
    annotations = [
        annotation(
            "Retrain started",
            f'changes(monitoring_events{{{SERIES}, event="retrain_started"}}[2m]) > 0',
            "orange",
        ),
        annotation(
            "Promoted",
            f'changes(monitoring_events{{{SERIES}, event="promoted"}}[2m]) > 0',
            "green",
        ),
        annotation(
            "Retrain failed",
            f'changes(monitoring_events{{{SERIES}, event="retrain_failed"}}[2m]) > 0',
            "red",
        ),
    ]
    return dashboard(
        "volcast-forecast-quality",
        "volcast forecast quality",
        "How good the champion's forecasts are, against HAR and its training level; retrains.",
        panels,
        variables=series_variables(),
        annotations=annotations,
    )


DASHBOARDS: dict[str, Callable[[], model.Dashboard]] = {
    "volcast-service.json": service,
    "volcast-model-data.json": model_data,
    "volcast-forecast-quality.json": forecast_quality,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {
        name: json.dumps(build(), cls=JSONEncoder, indent=2) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) the dashboards' JSON.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run uv run python {__file__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
