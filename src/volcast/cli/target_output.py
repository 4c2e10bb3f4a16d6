"""What ``backtest`` and ``train`` print for the return and direction targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from rich.table import Table

from volcast.cli.output import console

if TYPE_CHECKING:
    from volcast.cli.options import Options
    from volcast.evaluation.target_backtest import TargetBacktestResult
    from volcast.pipeline.run import RunResult

_COLUMNS = {
    "direction": [
        ("brier", "Brier", "{:.5f}"),
        ("brier_base_rate", "Brier base rate", "{:.5f}"),
        ("brier_skill", "Brier skill", "{:+.4f}"),
        ("log_loss", "log loss", "{:.5f}"),
        ("reliability", "reliability", "{:.2e}"),
        ("resolution", "resolution", "{:.2e}"),
        ("roc_auc", "ROC AUC", "{:.4f}"),
        ("accuracy", "accuracy", "{:.4f}"),
        ("seconds", "seconds", "{:.1f}"),
    ],
    "return": [
        ("rmse", "RMSE", "{:.3e}"),
        ("mae", "MAE", "{:.3e}"),
        ("r2_oos", "R2 oos vs 0", "{:+.5f}"),
        ("directional_accuracy", "dir acc", "{:.4f}"),
        ("rmse_close", "RMSE close", "{:.4g}"),
        ("mape_close", "MAPE close", "{:.3e}"),
        ("seconds", "seconds", "{:.1f}"),
    ],
}
_TRADING = [
    ("total_return", "total return", "{:+.3f}"),
    ("annual_return", "annual", "{:+.3f}"),
    ("sharpe", "Sharpe", "{:+.2f}"),
    ("sortino", "Sortino", "{:+.2f}"),
    ("max_drawdown", "max DD", "{:.3f}"),
    ("turnover", "turnover", "{:.3f}"),
    ("hit_rate", "hit rate", "{:.3f}"),
    ("n_trades", "trades", "{:.0f}"),
]


def _table(
    frame: pd.DataFrame, columns: list[tuple[str, str, str]], title: str, bold: str
) -> Table:
    table = Table(title=title)
    table.add_column(str(frame.index.name or "model"))
    present = [c for c in columns if c[0] in frame.columns]
    for _, label, _ in present:
        table.add_column(label, justify="right")
    for name, row in frame.iterrows():
        cells = ["-" if pd.isna(row[k]) else fmt.format(float(row[k])) for k, _, fmt in present]
        table.add_row(str(name), *cells, style="bold green" if name == bold else None)
    return table


def print_target_backtest(result: TargetBacktestResult, title: str) -> None:
    """The metrics table (best primary loss first), the trading table and the selection."""
    n = result.predictions["timestamp"].nunique()
    metrics = result.metrics.sort_values(result.primary)
    console.print(
        _table(metrics, _COLUMNS[result.kind], f"{title}: {n} out-of-sample bars", result.selected),
        soft_wrap=False,
    )
    if not result.trading.empty:
        console.print(
            _table(
                result.trading,
                _TRADING,
                "paper trading (costs and slippage from params.yaml trading:)",
                result.selected,
            ),
            soft_wrap=False,
        )
    console.print(
        f"selected: [bold]{result.selected}[/] on {result.primary} (best baseline: "
        f"{result.best_baseline}), {result.duration_seconds:.1f} s"
    )


def print_variance_trading(options: Options, result: RunResult) -> None:
    """``backtest --trading`` of the variance target: vol targeting vs constant exposure."""
    from volcast.evaluation.backtest import BacktestResult
    from volcast.pipeline.targets import variance_trading

    bt = result.results["backtest"]
    if not isinstance(bt, BacktestResult):
        return  # the return and direction backtests print their trading table already
    context = options.context()
    table = variance_trading(
        storage=context.storage,
        symbol=context.series.symbol,
        interval=context.series.interval,
        params=context.params,
        result=bt,
    )
    title = "paper trading: volatility-targeted long vs constant exposure"
    console.print(_table(table, _TRADING, title, f"vol_target_{bt.selected}"), soft_wrap=False)
