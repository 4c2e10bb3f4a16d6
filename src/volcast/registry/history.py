"""Registry reads for people: a version's record and a model's promotion history.

:func:`version_record` is what the status page's champion card shows (when the version was
registered, the promotion decision and reason recorded on it by
:func:`~volcast.registry.promotion.record_promotion`, and its run's metrics: its own and every
baseline's walk-forward QLIKE); :func:`model_history` lists every version for ``volcast
report``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from volcast.registry.loading import request_limits
from volcast.registry.tracking import client, mlflow_errors, model_name

PROMOTION_METRIC = "promotion_decision"
"""The run metric record_promotion logs (1 promoted, 0 rejected); its timestamp dates it."""


@dataclass(frozen=True)
class VersionRecord:
    """One registered version as the registry describes it (no model loaded)."""

    name: str
    version: int
    run_id: str
    registered_at: float
    """Seconds since the epoch."""
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    decided_at: float | None = None
    """When the promotion decision was recorded (seconds since the epoch), if it was."""

    @property
    def decision(self) -> str | None:
        """``promoted`` or ``rejected`` when ``volcast promote`` judged this version."""
        return self.tags.get("promotion_decision")

    @property
    def reason(self) -> str | None:
        """The promotion decision's reason, in words."""
        return self.tags.get("promotion_reason")

    @property
    def kind(self) -> str | None:
        """The candidate this version is (``lightgbm``, ``har`` ...) when its run says."""
        return self.tags.get("model") or None


def _record(mlflow_client: Any, mv: Any) -> VersionRecord:
    tags = {str(k): str(v) for k, v in (mv.tags or {}).items()}
    metrics: dict[str, float] = {}
    decided_at: float | None = None
    if mv.run_id:
        run = mlflow_client.get_run(mv.run_id)
        metrics = {str(k): float(v) for k, v in run.data.metrics.items()}
        run_tags = {str(k): str(v) for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
        tags = {**run_tags, **tags}
        if PROMOTION_METRIC in metrics:
            history = mlflow_client.get_metric_history(mv.run_id, PROMOTION_METRIC)
            if history:
                decided_at = max(m.timestamp for m in history) / 1000.0
    return VersionRecord(
        name=str(mv.name),
        version=int(mv.version),
        run_id=str(mv.run_id or ""),
        registered_at=int(mv.creation_timestamp or 0) / 1000.0,
        aliases=tuple(str(a) for a in (getattr(mv, "aliases", None) or ())),
        tags=tags,
        metrics=metrics,
        decided_at=decided_at,
    )


def version_record(
    symbol: str,
    interval: str,
    version: int,
    *,
    tracking_uri: str | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
) -> VersionRecord:
    """The registry's record of one version (NotFoundError / RegistryError as usual)."""
    name = model_name(symbol, interval)
    mlflow_client = client(tracking_uri)
    with (
        request_limits(max_retries=max_retries, timeout=timeout),
        mlflow_errors(f"reading {name} v{version}", symbol=symbol, interval=interval),
    ):
        return _record(mlflow_client, mlflow_client.get_model_version(name, str(version)))


def model_history(
    symbol: str, interval: str, *, tracking_uri: str | None = None
) -> list[VersionRecord]:
    """Every registered version of the series' model, oldest first (empty when none)."""
    name = model_name(symbol, interval)
    mlflow_client = client(tracking_uri)
    with mlflow_errors(f"listing {name}", symbol=symbol, interval=interval):
        found = mlflow_client.search_model_versions(f"name = '{name}'")
        if not found:
            return []
        aliases: dict[int, list[str]] = {}
        for alias, version in (mlflow_client.get_registered_model(name).aliases or {}).items():
            aliases.setdefault(int(version), []).append(str(alias))
        records = [_record(mlflow_client, mv) for mv in found]
    records = [replace(r, aliases=tuple(sorted(aliases.get(r.version, [])))) for r in records]
    return sorted(records, key=lambda r: r.version)
