"""The one option set every command draws from: ``Annotated`` aliases and their values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from volcast.config import TargetParams, load_params
from volcast.errors import ConfigError
from volcast.pipeline.run import RunContext, SourceSpec, parse_staleness

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Parameter file (default: ./params.yaml).")
]
SymbolOpt = Annotated[
    str | None, typer.Option("--symbol", help="Instrument, e.g. EUR/USD (default: params.yaml).")
]
IntervalOpt = Annotated[
    str | None, typer.Option("--interval", help="Bar interval, e.g. 1h (default: params.yaml).")
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="sample | csv | parquet | twelvedata | alphavantage | oanda | cryptocompare | binance",
    ),
]
PathOpt = Annotated[Path | None, typer.Option("--path", help="File for the csv/parquet source.")]
TsColOpt = Annotated[
    str | None,
    typer.Option(
        "--timestamp-column",
        help="Timestamp column of a CSV file, or a date and a time column: --timestamp-column "
        "Date,Time (they are joined with a space).",
    ),
]
TsFmtOpt = Annotated[
    str | None,
    typer.Option("--timestamp-format", help="strftime format of the CSV timestamps."),
]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--source-timezone",
        help="Clock of a file's naive timestamps, converted to UTC: an IANA name "
        "(Europe/Athens, Etc/GMT-2), a fixed offset (UTC+2) or a name shifted by hours "
        "(America/New_York+7, MetaTrader's NY-close servers). Default: the format's own "
        "(UTC where the file does not say).",
    ),
]
FileFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--file-format",
        help="Read the file as this layout instead of detecting it: metatrader5, metatrader4, "
        "histdata, histdata-mt, dukascopy, binance, yahoo, yfinance, stooq, stooq-ascii, "
        "cryptodatadownload.",
    ),
]
SkipOpt = Annotated[
    int | None, typer.Option("--skip-rows", help="Leading lines to skip before the CSV header.")
]
StaleOpt = Annotated[
    str | None,
    typer.Option(
        "--max-staleness",
        help="Fail when the last bar is older than this (e.g. 2h); live sources always check.",
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        help="CSV of the selected model's out-of-sample forecasts, one row per bar: "
        "timestamp,forecast_variance,realized_variance,model (SPEC contract).",
    ),
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="What to forecast: variance (default: params.yaml target.kind), return (the next "
        "bar's log return; --output columns timestamp,forecast_return,realized_return,model) "
        "or direction (P(next close up); timestamp,probability_up,outcome,model).",
    ),
]
TradingOpt = Annotated[
    bool,
    typer.Option(
        "--trading",
        help="Variance target: also paper-trade a volatility-targeted position from the "
        "selected model against constant exposure (costs from params.yaml trading:).",
    ),
]
AllModelsOpt = Annotated[
    bool,
    typer.Option(
        "--all-models", help="With --output: write every candidate's rows, not only the selected."
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Retrain even when the dataset, parameters and code are unchanged since the "
        "last registered challenger.",
    ),
]
AllInstrumentsOpt = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Run every series of params.yaml's instruments: in turn (a failing one does not "
        "stop the others; exit 1 at the end if any failed).",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Show library logs (MLflow, alembic, warnings) on the terminal too.",
    ),
]


@dataclass(frozen=True)
class Options:
    """The options a command was given; unset ones fall back to ``params.yaml``."""

    config: Path | None = None
    symbol: str | None = None
    interval: str | None = None
    source: SourceSpec = field(default_factory=SourceSpec)
    max_staleness: str | None = None
    force: bool = False
    target: str | None = None
    """``--target``: overrides ``target.kind`` of the parameters."""

    def context(self) -> RunContext:
        """The run context: parameters loaded, series and staleness validated."""
        params = load_params(self.config)
        if self.target is not None:
            kinds = ("variance", "return", "direction")
            if self.target not in kinds:
                raise ConfigError(
                    f"--target {self.target!r} is not a target; choose one of {', '.join(kinds)}"
                )
            try:
                target = TargetParams.model_validate(
                    {**params.target.model_dump(), "kind": self.target}
                )
            except ValueError as exc:
                raise ConfigError(f"--target {self.target}: {exc}") from exc
            params = params.model_copy(update={"target": target})
        return RunContext.from_settings(
            params=params,
            symbol=self.symbol,
            interval=self.interval,
            source=self.source,
            max_staleness=parse_staleness(self.max_staleness),
            force=self.force,
        )
