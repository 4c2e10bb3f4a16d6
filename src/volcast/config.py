"""Settings from the environment (``VOLCAST_*``, ``.env``) and parameters from ``params.yaml``.

Nothing is read at import time: call :func:`get_settings` and :func:`load_params`.
Settings are about *where* things are (data directory, tracking URI, keys); parameters are
about *what* the pipeline computes (DVC tracks ``params.yaml``, so changing it reruns stages).

One module on purpose, past the usual size: it is the schema of ``params.yaml`` section by
section (declarations and their validators, no other logic), read as one document next to
the file it validates.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from volcast.errors import ConfigError
from volcast.schemas import interval_seconds, slugify

DEFAULT_PARAMS_FILE = "params.yaml"


class Settings(BaseSettings):
    """Deployment settings; every field can be set as ``VOLCAST_<NAME>`` or in ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix="VOLCAST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: str = Field(default="./data", description="Root of raw/, curated/, datasets/, ...")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias="MLFLOW_TRACKING_URI",
        description="Default: a SQLite store under the data directory",
    )
    s3_endpoint_url: str | None = Field(default=None, description="For MinIO or moto")
    twelvedata_api_key: SecretStr | None = Field(default=None)
    alphavantage_api_key: SecretStr | None = Field(default=None)
    oanda_api_key: SecretStr | None = Field(default=None)
    oanda_environment: Literal["practice", "live"] = "practice"
    cryptocompare_api_key: SecretStr | None = Field(default=None)
    http_timeout_seconds: float = 20.0
    http_max_retries: int = Field(default=5, ge=0, description="Retries on 429/5xx/timeouts")
    twelvedata_base_url: str = "https://api.twelvedata.com"
    alphavantage_base_url: str = "https://www.alphavantage.co"
    oanda_base_url: str | None = Field(default=None, description="Default: from environment")
    cryptocompare_base_url: str = "https://min-api.cryptocompare.com"
    binance_base_url: str = "https://api.binance.com"
    news_api_key: SecretStr | None = Field(
        default=None, description="Optional key of a news API, sent as X-Api-Key"
    )
    admin_token: SecretStr | None = Field(default=None)
    alert_webhook_token: SecretStr | None = Field(
        default=None, description="Bearer token Alertmanager sends to POST /alerts/webhook"
    )

    def storage_options(self) -> dict[str, Any]:
        """fsspec options for ``s3://`` data directories (endpoint for MinIO/moto)."""
        if self.s3_endpoint_url:
            return {"client_kwargs": {"endpoint_url": self.s3_endpoint_url}}
        return {}

    def tracking_uri(self) -> str:
        """The MLflow tracking URI: the environment's, else SQLite under the data directory."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        if "://" in self.data_dir:
            raise ConfigError("MLFLOW_TRACKING_URI must be set when VOLCAST_DATA_DIR is remote")
        path = Path(self.data_dir).resolve() / "mlflow.db"
        return f"sqlite:///{path}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Section):
    """Which instrument the default pipeline runs on and where bars come from."""

    source: str = "sample"
    symbol: str = "EUR/USD"
    interval: str = "1h"
    lookback_bars: int = Field(default=5000, gt=0, description="History to fetch on first run")

    @field_validator("interval")
    @classmethod
    def _valid_interval(cls, value: str) -> str:
        interval_seconds(value)
        return value


class SampleParams(_Section):
    """The embedded synthetic source (labelled synthetic everywhere it shows)."""

    n_bars: int = Field(default=6000, ge=24)
    seed: int = 7
    start: str = "2024-01-01T00:00:00Z"
    regime_shift_at: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Fraction of the series where vol jumps"
    )


class QualityParams(_Section):
    """Thresholds of the quality gate (SPEC 2)."""

    max_null_ratio: float = Field(default=0.01, ge=0.0, le=1.0)
    min_records: int = Field(default=24, ge=1)
    outlier_zscore: float = Field(default=8.0, gt=0.0)
    max_staleness_bars: float = Field(
        default=3.0, gt=0.0, description="Live sources: last bar older than this many bars fails"
    )


class FeatureParams(_Section):
    """Feature set (SPEC 3); one builder serves training and serving."""

    lags: int = Field(default=24, ge=1)
    windows: tuple[int, ...] = (4, 8, 24)
    weekly_window: int = Field(default=168, ge=2)
    har_windows: tuple[int, ...] = (1, 24, 168)
    calendar: bool = True
    seasonal_profile: bool = True
    news: bool = Field(
        default=False, description="Add headline-sentiment features (docs/features.md#news)"
    )
    news_scorer: Literal["lexicon", "finbert"] = "lexicon"
    news_half_life_bars: float = Field(
        default=6.0, gt=0.0, description="Half-life of the recency-weighted sentiment, in bars"
    )
    news_finbert_model: str | None = Field(
        default=None, description="Local directory of a FinBERT model (news_scorer: finbert)"
    )


class TargetParams(_Section):
    """Forecast target (SPEC 4) and its variance floor.

    ``floor_source: quantile`` (the default) makes the floor data-driven: the features stage
    replaces ``floor`` by the ``floor_quantile`` quantile of the positive per-bar variances
    of the bars the dataset is built from (the first ``floor_bars`` of them when set) and
    records the result with ``floor_source: fixed``
    (:func:`volcast.features.target.resolve_target`); that resolved section travels with the
    dataset and the registered model, so serving floors exactly as training did.
    ``floor_source: fixed`` uses ``floor`` as given. ``kind`` picks the target: the
    variance above (whose floor also shapes the ``rv`` features of every kind), or the next
    bar's log return or up/down direction (:mod:`volcast.features.target`).
    """

    kind: Literal["variance", "return", "direction"] = Field(
        default="variance",
        description=(
            "What is forecast: variance (the default), return (the next bar's log return) or "
            "direction (the probability that the next bar closes up); SPEC 20"
        ),
    )
    horizon: int = Field(default=1, ge=1)
    estimator: Literal["garman_klass", "parkinson", "rogers_satchell", "close_to_close"] = (
        "garman_klass"
    )
    floor: float = Field(default=1e-10, gt=0.0, description="Variance floor (fixed source)")
    floor_source: Literal["quantile", "fixed"] = "quantile"
    floor_quantile: float = Field(default=0.01, gt=0.0, lt=0.5)
    floor_bars: int | None = Field(
        default=None, ge=24, description="Bars from the first the floor is estimated on"
    )

    @model_validator(mode="after")
    def _one_bar_ahead(self) -> TargetParams:
        if self.kind != "variance" and self.horizon != 1:
            raise ValueError(
                f"target.kind {self.kind!r} forecasts the next bar only: set target.horizon 1"
                f" (got {self.horizon})"
            )
        return self


class ProfileParams(_Section):
    """Data profile report (ydata-profiling)."""

    enabled: bool = True
    max_rows: int = Field(default=5000, ge=100)


class TrainParams(_Section):
    """Candidates and the walk-forward backtest (SPEC 7)."""

    candidates: tuple[str, ...] = (
        "persistence",
        "ewma",
        "garch",
        "har",
        "har_weekly",
        "lightgbm_har",
        "combination",
    )
    min_train_bars: int = Field(default=1000, ge=50, description="First walk-forward window")
    refit_every: int = Field(default=720, ge=1, description="Bars between refits")
    max_test_bars: int | None = Field(default=None, ge=1, description="Cap on scored bars")
    seed: int = 42
    ewma_lambda: float = Field(default=0.94, gt=0.0, lt=1.0)
    lightgbm: dict[str, Any] = Field(
        default_factory=lambda: {
            "n_estimators": 150,
            "learning_rate": 0.03,
            "num_leaves": 7,
            "min_child_samples": 200,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
        }
    )
    lightgbm_search: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="Overrides of `lightgbm` tried by nested walk-forward in each training window",
    )


class TradingParams(_Section):
    """Paper-trading backtests of the return and direction forecasts (SPEC 20)."""

    cost_bps: float = Field(default=1.0, ge=0.0, description="Cost per unit traded, in bp")
    slippage_bps: float = Field(default=0.5, ge=0.0, description="Slippage per unit traded, bp")
    band: float = Field(
        default=0.0, ge=0.0, lt=0.5, description="Trade direction only beyond 0.5 +/- band"
    )
    return_band: float = Field(
        default=0.0, ge=0.0, description="Trade returns only beyond +/- this log return"
    )
    allow_short: bool = True
    max_leverage: float = Field(
        default=2.0, gt=0.0, description="Variance target: cap of the vol-targeted position"
    )


class PromotionParams(_Section):
    """Champion/challenger promotion (SPEC 10)."""

    margin: float = Field(
        default=0.0, ge=0.0, description="Relative QLIKE improvement the challenger needs"
    )
    window_bars: int = Field(default=500, ge=24, description="Recent out-of-sample window")
    shift_min_bars: int = Field(
        default=48,
        ge=12,
        description="After a detected change, judge on the bars since it once this many exist",
    )


class MonitoringParams(_Section):
    """The live loop's monitor (SPEC 13, 18): detectors and the retrain trigger."""

    drift_window: int = Field(default=500, ge=1, description="Feature rows in the drift window")
    drift_min_samples: int = Field(default=500, ge=1)
    psi_threshold: float = Field(default=0.25, gt=0.0)
    ood_threshold: float = Field(default=0.15, gt=0.0, le=1.0)
    ood_recent_bars: int = Field(
        default=0, ge=0, description="Recent stretch checked for out-of-distribution rows (0: off)"
    )
    ood_recent_threshold: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Share of that stretch out of distribution"
    )
    level_window: int = Field(
        default=24, ge=2, description="Bars whose mean log realized variance is checked for a step"
    )
    level_false_alarms: float = Field(
        default=0.5, gt=0.0, description="Crossings per 1,000 history bars the level line allows"
    )
    level_sides: Literal["up", "both", "off"] = Field(
        default="up", description="Which steps in the volatility level raise drift"
    )
    decay_k: float = Field(default=0.5, ge=0.0, description="CUSUM allowance, in scale units")
    false_alarm_rate: float = Field(
        default=0.01,
        gt=0.0,
        lt=1.0,
        description="Share of unchanged 1,000-bar stretches the decay threshold lets alarm",
    )
    trigger_k: int = Field(default=3, ge=1, description="Signals among the last trigger_n bars")
    trigger_n: int = Field(default=6, ge=1)
    cooldown_bars: int = Field(default=168, ge=0, description="Bars between two retrains")
    loss_window: int = Field(default=168, ge=1, description="Rolling realized-QLIKE window")
    settle_seconds: float = Field(default=5.0, ge=0.0, description="Wait after a bar closes")


class InstrumentParams(_Section):
    """One configured series: what ``volcast pipeline --all`` and the Airflow DAGs run over.

    ``source`` and its options are those of the CLI's ``--source``, ``--path``,
    ``--timestamp-column``, ... (a bare ``path`` means ``csv``). A relative ``path`` is
    resolved against the working directory of the command, as on the command line.
    """

    symbol: str
    interval: str = "1h"
    source: str = "sample"
    path: str | None = None
    timestamp_column: str | None = None
    timestamp_format: str | None = None
    skip_rows: int | None = Field(default=None, ge=0)
    source_timezone: str | None = None
    file_format: str | None = None

    @field_validator("interval")
    @classmethod
    def _valid_interval(cls, value: str) -> str:
        interval_seconds(value)
        return value

    @field_validator("symbol")
    @classmethod
    def _valid_symbol(cls, value: str) -> str:
        slugify(value)  # raises when the symbol has no letters or digits
        return value

    @model_validator(mode="after")
    def _path_for_files(self) -> InstrumentParams:
        if self.source in ("csv", "parquet") and not self.path:
            raise ValueError(
                f"instrument {self.symbol} {self.interval}: source {self.source} needs a path"
            )
        return self

    @property
    def key(self) -> tuple[str, str]:
        """``(slug, interval)``: two instruments with the same key would share their storage."""
        return (slugify(self.symbol), self.interval)


class Params(_Section):
    """Everything in ``params.yaml``."""

    data: DataParams = DataParams()
    sample: SampleParams = SampleParams()
    quality: QualityParams = QualityParams()
    features: FeatureParams = FeatureParams()
    target: TargetParams = TargetParams()
    profile: ProfileParams = ProfileParams()
    train: TrainParams = TrainParams()
    promotion: PromotionParams = PromotionParams()
    trading: TradingParams = TradingParams()
    monitoring: MonitoringParams = MonitoringParams()
    instruments: tuple[InstrumentParams, ...] = Field(
        default=(),
        description="Series `pipeline --all` and the DAGs run over (default: the `data` series)",
    )
    extra: dict[str, Any] = Field(default_factory=dict, description="Sections of later stages")

    @field_validator("instruments")
    @classmethod
    def _distinct_instruments(
        cls, value: tuple[InstrumentParams, ...]
    ) -> tuple[InstrumentParams, ...]:
        seen: set[tuple[str, str]] = set()
        for instrument in value:
            if instrument.key in seen:
                raise ValueError(
                    f"instrument {instrument.symbol} {instrument.interval} is listed twice "
                    "(symbols are compared by slug)"
                )
            seen.add(instrument.key)
        return value

    def series_list(self) -> tuple[InstrumentParams, ...]:
        """The configured instruments; without ``instruments:``, the ``data`` section's series."""
        if self.instruments:
            return self.instruments
        return (
            InstrumentParams(
                symbol=self.data.symbol, interval=self.data.interval, source=self.data.source
            ),
        )


def load_params(path: str | Path | None = None) -> Params:
    """Read parameters from ``path`` (default ``params.yaml`` if present, else defaults)."""
    if path is None:
        candidate = Path(DEFAULT_PARAMS_FILE)
        if not candidate.exists():
            return Params()
        path = candidate
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"parameter file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"parameter file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"parameter file {path} must hold a mapping at the top level")
    known = set(Params.model_fields) - {"extra"}
    extra = {k: v for k, v in raw.items() if k not in known}
    try:
        return Params.model_validate(
            {**{k: v for k, v in raw.items() if k in known}, "extra": extra}
        )
    except ValidationError as exc:
        raise ConfigError(f"invalid parameters in {path}: {exc}") from exc
