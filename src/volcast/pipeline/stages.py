"""The data stages: ingest -> validate -> features (training lives in ``training``).

Each stage reads its inputs from the data store, calls the pure functions of the layer it
belongs to and writes its outputs atomically. The CLI, the DVC stages, Airflow tasks and the
stream worker all call these functions; none of them holds logic of its own.

Staging protocol: ``ingest`` fetches the bars after the last *curated* bar (the watermark) and
writes them to ``staging/``, replacing the previous increment (an empty one when nothing is
new), so a rejected increment is simply fetched again; ``validate`` gates curated + staging as
one dataset and, only if every check passes, replaces the curated bars. Validating the same
increment twice changes nothing (its bars are then exact duplicates, which the gate drops). A
failed gate writes its report and nothing else: curated bars, datasets and the watermark stay
byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from volcast.config import Params
from volcast.errors import NotFoundError, QualityGateError
from volcast.features import Dataset, DatasetSpec, FeatureBuilder, build_dataset, resolve_target
from volcast.features.news import news_feature_names
from volcast.pipeline.profiling import InlineProfiles, ProfileJob, Profiles
from volcast.quality import clean_bars, run_checks
from volcast.schemas import BAR_COLUMNS, TIMESTAMP, empty_bars
from volcast.sources import Source
from volcast.sources.news_store import read_headlines
from volcast.storage import Layout, Storage, content_hash

Progress = Callable[[str], None]


def _no_progress(message: str) -> None:
    """Default progress callback: silent."""


def _utcnow() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


def read_curated(storage: Storage, layout: Layout) -> pd.DataFrame:
    """The curated bars for ``layout`` (an empty frame when none are stored yet)."""
    if not storage.exists(layout.curated_bars):
        return empty_bars()
    return storage.read_parquet(layout.curated_bars)


def last_curated_timestamp(storage: Storage, layout: Layout) -> pd.Timestamp | None:
    """The watermark: the timestamp of the last curated bar, None before the first run."""
    if not storage.exists(layout.curated_meta):
        return None
    last = storage.read_json(layout.curated_meta).get("last_timestamp")
    return pd.Timestamp(last) if last else None


def _stringify_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns (unparsed values a file source kept for the gate) as strings for Parquet."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].astype("string")
    return out


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest`` fetched and where it put it."""

    symbol: str
    interval: str
    source: str
    since: pd.Timestamp | None
    new_rows: int
    first_timestamp: pd.Timestamp | None
    last_timestamp: pd.Timestamp | None
    raw_paths: list[str] = field(default_factory=list)
    staging_path: str | None = None
    notes: list[str] = field(default_factory=list)
    """What a file source detected or assumed (format, time zone, DST, volume kind)."""


def ingest(
    *,
    storage: Storage,
    source: Source,
    symbol: str,
    interval: str,
    now: pd.Timestamp | None = None,
) -> IngestResult:
    """Fetch the bars after the last curated bar, archive raw payloads, stage the increment."""
    layout = Layout(symbol, interval)
    since = last_curated_timestamp(storage, layout)
    collected_at = (now or _utcnow()).to_pydatetime()
    raw_paths: list[str] = []

    def save_raw(payload: bytes, ext: str) -> None:
        page = len(raw_paths) + 1
        raw_paths.append(
            storage.write_bytes(layout.raw(source.name, collected_at, page=page, ext=ext), payload)
        )

    bars = source.fetch(symbol=symbol, interval=interval, since=since, on_raw=save_raw)
    synthetic = bool(bars.attrs.get("synthetic", False))
    notes = [str(n) for n in bars.attrs.get("source_notes", [])]
    staging_path = storage.write_parquet(layout.staging_bars, _stringify_objects(bars))
    timestamps = pd.to_datetime(bars[TIMESTAMP], utc=True, errors="coerce")
    first, last = (timestamps.min(), timestamps.max()) if len(bars) else (None, None)
    storage.write_json(
        layout.staging_meta,
        {
            "source": source.name,
            "live": bool(source.live),
            "synthetic": synthetic,
            "symbol": symbol,
            "interval": interval,
            "rows": len(bars),
            "since": since.isoformat() if since is not None else None,
            "collected_at": collected_at.isoformat(),
            "raw": raw_paths,
            "file_format": bars.attrs.get("file_format"),
            "volume_kind": bars.attrs.get("volume_kind"),
            "notes": notes,
        },
    )
    return IngestResult(
        symbol,
        interval,
        source.name,
        since,
        len(bars),
        None if first is None or pd.isna(first) else first,
        None if last is None or pd.isna(last) else last,
        raw_paths,
        staging_path,
        notes,
    )


@dataclass(frozen=True)
class ValidateResult:
    """Outcome of a passed gate: the curated bars now stored."""

    symbol: str
    interval: str
    rows: int
    added_rows: int
    last_timestamp: pd.Timestamp | None
    report_path: str
    curated_path: str
    changed: bool
    warnings: list[str]


def validate(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    max_staleness: pd.Timedelta | None = None,
    now: pd.Timestamp | None = None,
) -> ValidateResult:
    """Gate curated + staged bars as one dataset; on success merge them into curated bars.

    Every ratio rule of the gate must also hold for the increment alone. Raises
    QualityGateError (a DataQualityError) naming every failed check; then only the report is
    written: curated bars, datasets and the watermark stay byte-identical.
    """
    layout = Layout(symbol, interval)
    curated = read_curated(storage, layout)
    staged = storage.exists(layout.staging_bars)
    if not staged and curated.empty:
        raise NotFoundError(
            "nothing to validate: no staged or curated bars; run `volcast ingest` first",
            symbol=symbol,
            interval=interval,
        )
    increment = storage.read_parquet(layout.staging_bars) if staged else empty_bars()
    meta = storage.read_json(layout.staging_meta) if staged else {}
    old_meta = storage.read_json(layout.curated_meta) if storage.exists(layout.curated_meta) else {}
    source = str(meta.get("source") or old_meta.get("source") or "unknown")
    live = bool(meta.get("live", old_meta.get("live", False)))
    synthetic = bool(meta.get("synthetic", old_meta.get("synthetic", False)))
    for column in BAR_COLUMNS:
        if column in increment.columns and str(increment[column].dtype) == "string":
            increment[column] = increment[column].astype(object)
    parts = [frame for frame in (curated, increment) if not frame.empty]
    if not parts:
        raise NotFoundError(
            "nothing to validate: the source returned no bars and none are curated yet",
            symbol=symbol,
            interval=interval,
        )
    combined = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    clean, report = run_checks(
        combined,
        symbol=symbol,
        interval=interval,
        source=source,
        params=params.quality,
        live=live,
        max_staleness=max_staleness,
        now=now,
        increment_rows=len(increment),
    )
    report = report.model_copy(update={"notes": [str(n) for n in meta.get("notes", [])]})
    report_path = storage.write_json(layout.quality_report, report.model_dump(mode="json"))
    if not report.passed:
        raise QualityGateError(report, report_path=report_path)
    warnings = [f"{c.name}: {c.message}" for c in report.checks if c.name in report.warnings]
    new_hash = content_hash(clean)
    changed = new_hash != old_meta.get("content_hash")
    curated_path = storage.url(layout.curated_bars)
    last = clean[TIMESTAMP].iloc[-1] if len(clean) else None
    if changed:
        curated_path = storage.write_parquet(layout.curated_bars, clean)
        storage.write_json(
            layout.curated_meta,
            {
                "symbol": symbol,
                "interval": interval,
                "source": source,
                "live": live,
                "synthetic": synthetic,
                "volume_kind": meta.get("volume_kind", old_meta.get("volume_kind")),
                "rows": len(clean),
                "first_timestamp": clean[TIMESTAMP].iloc[0].isoformat() if len(clean) else None,
                "last_timestamp": last.isoformat() if last is not None else None,
                "content_hash": new_hash,
                "updated_at": (now or _utcnow()).isoformat(),
            },
        )
    return ValidateResult(
        symbol,
        interval,
        len(clean),
        len(clean) - len(curated),
        last,
        report_path,
        curated_path,
        changed,
        warnings,
    )


@dataclass(frozen=True)
class FeaturesResult:
    """The feature dataset written by ``features``."""

    symbol: str
    interval: str
    rows: int
    n_features: int
    warmup_bars: int
    dataset_path: str
    content_hash: str
    changed: bool
    profile_path: str | None


def features(
    *,
    storage: Storage,
    symbol: str,
    interval: str,
    params: Params,
    progress: Progress = _no_progress,
    profiles: Profiles | None = None,
) -> FeaturesResult:
    """Build features + target from the curated bars and write the dataset (and its profile).

    The profile report goes to ``profiles`` (default: rendered and written here)."""
    layout = Layout(symbol, interval)
    if not storage.exists(layout.curated_bars):
        raise NotFoundError(
            "no curated bars; run `volcast ingest` and `volcast validate` first",
            symbol=symbol,
            interval=interval,
        )
    curated_meta = storage.read_json(layout.curated_meta)
    bars = clean_bars(storage.read_parquet(layout.curated_bars), interval=interval)
    progress(f"building features from {len(bars)} bars")
    builder = FeatureBuilder(features=params.features, target=params.target, interval=interval)
    target = resolve_target(bars, params.target)  # a data-driven floor, fixed from here on
    headlines = read_headlines(storage, symbol) if params.features.news else None
    dataset = build_dataset(
        bars, features=params.features, target=target, interval=interval, headlines=headlines
    )
    warmup = builder.warmup_bars
    if len(dataset) <= warmup + params.target.horizon:
        raise NotFoundError(
            f"{len(dataset)} curated bars give no complete feature row: the features need "
            f"{warmup} bars of warm-up plus {params.target.horizon} for the target; "
            "ingest more history",
            symbol=symbol,
            interval=interval,
        )
    synthetic = bool(curated_meta.get("synthetic", False))
    spec = DatasetSpec(
        symbol=symbol,
        interval=interval,
        source=curated_meta.get("source"),
        synthetic=synthetic,
        rows=len(dataset),
        feature_names=(*builder.feature_names, *news_feature_names(params.features)),
        warmup_bars=warmup,
        content_hash=content_hash(dataset),
        curated_hash=curated_meta.get("content_hash"),
        features=params.features,
        target=target,
    )
    old = storage.read_json(layout.dataset_meta) if storage.exists(layout.dataset_meta) else {}
    changed = spec.content_hash != old.get("content_hash") or not storage.exists(layout.dataset)
    dataset_path = storage.url(layout.dataset)
    if changed:
        dataset_path = storage.write_parquet(layout.dataset, dataset)
        storage.write_json(layout.dataset_meta, spec.to_dict())
    profile_path: str | None = None
    if params.profile.enabled and (changed or not storage.exists(layout.profile_report)):
        progress("profiling the dataset")
        job = ProfileJob(
            dataset, f"volcast dataset {symbol} {interval}", params.profile.max_rows, synthetic
        )
        profile_path = (profiles or InlineProfiles()).submit(storage, layout.profile_report, job)
    elif storage.exists(layout.profile_report):
        profile_path = storage.url(layout.profile_report)
    return FeaturesResult(
        symbol,
        interval,
        len(dataset),
        len(spec.feature_names),
        warmup,
        dataset_path,
        spec.content_hash,
        changed,
        profile_path,
    )


def read_dataset_spec(storage: Storage, *, symbol: str, interval: str) -> DatasetSpec:
    """The stored feature dataset's metadata (its ``meta.json``), without reading the table."""
    layout = Layout(symbol, interval)
    if not storage.exists(layout.dataset_meta):
        raise NotFoundError(
            "no feature dataset; run `volcast features` first", symbol=symbol, interval=interval
        )
    return DatasetSpec.from_dict(storage.read_json(layout.dataset_meta))


def read_dataset(storage: Storage, *, symbol: str, interval: str) -> Dataset:
    """The stored feature dataset and its metadata."""
    layout = Layout(symbol, interval)
    if not storage.exists(layout.dataset):
        raise NotFoundError(
            "no feature dataset; run `volcast features` first", symbol=symbol, interval=interval
        )
    frame = storage.read_parquet(layout.dataset)
    frame.attrs = {}  # older datasets carry their metadata in Parquet attrs: the spec holds it
    return Dataset(frame, read_dataset_spec(storage, symbol=symbol, interval=interval))
