"""The stream worker of one series, assembled: its source and clock, the champion's
forecaster (:mod:`volcast.pipeline.champion`), the watches of the return and direction
champions (:mod:`volcast.pipeline.target_watch`) and :func:`retrain`, what the loop runs when
its trigger fires: features on every curated bar, ``train`` and the usual promotion.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pandas as pd

from volcast.config import Params
from volcast.errors import ConfigError
from volcast.monitoring.events import Event
from volcast.pipeline.champion import ChampionForecaster
from volcast.pipeline.replay import Clock
from volcast.pipeline.run import RunContext
from volcast.pipeline.stream import StreamWorker
from volcast.series import Series
from volcast.storage import Storage


def retrain(
    *,
    storage: Storage,
    series: Series,
    params: Params,
    tracking_uri: str | None,
    since: pd.Timestamp | None = None,
    degraded: bool = False,
) -> dict[str, Any]:
    """Features on every curated bar, train, then the usual promotion; the decision.

    ``since`` (where the detected change began) and ``degraded`` go to
    :func:`~volcast.pipeline.promotion.promote`: after a regime change the challenger is
    judged on the bars since it, and a champion the monitor found degrading loses its
    incumbency.
    """
    from volcast.pipeline import stages, training
    from volcast.pipeline.promotion import promote

    # the profile report is for people reading a batch run, not for every retrain of the loop
    quiet = params.model_copy(
        update={"profile": params.profile.model_copy(update={"enabled": False})}
    )
    stages.features(storage=storage, symbol=series.symbol, interval=series.interval, params=quiet)
    trained = training.train(
        storage=storage,
        symbol=series.symbol,
        interval=series.interval,
        params=params,
        tracking_uri=tracking_uri,
    )
    decision, report = promote(
        storage=storage,
        symbol=series.symbol,
        interval=series.interval,
        params=params,
        tracking_uri=tracking_uri,
        since=since,
        champion_degraded=degraded,
    )
    return {
        "promoted": decision.promoted,
        "reason": decision.reason,
        "challenger": trained.challenger,
        "challenger_version": decision.challenger_version,
        "champion_version": decision.champion_version,
        "report": report,
    }


def stream_worker(
    ctx: RunContext,
    *,
    replay: bool,
    speed: float,
    stop: threading.Event,
    on_event: Callable[[Event], None],
) -> StreamWorker:
    """The live loop of ``ctx``'s series: live on its source, or replaying its file."""
    from volcast.pipeline.replay import LiveClock, ReplayClock, ReplaySource

    series, params = ctx.series, ctx.params
    source = ctx.source.open(params)
    clock: Clock
    if replay:
        if source.live:
            raise ConfigError("--replay plays a file: use it with --source csv|parquet --path F")
        source = ReplaySource(source)
        clock = ReplayClock(interval=series.interval, speed=speed)
    else:
        clock = LiveClock(interval=series.interval, settle_seconds=params.monitoring.settle_seconds)
    forecaster = ChampionForecaster(
        storage=ctx.storage, series=series, params=params, tracking_uri=ctx.tracking_uri
    )

    def run_retrain(
        target: Series, *, since: pd.Timestamp | None = None, degraded: bool = False
    ) -> dict[str, Any]:
        return retrain(
            storage=ctx.storage,
            series=target,
            params=params,
            tracking_uri=ctx.tracking_uri,
            since=since,
            degraded=degraded,
        )

    from volcast.pipeline.feature_store import bar_publisher
    from volcast.pipeline.target_watch import target_watches

    return StreamWorker(
        on_bar=bar_publisher(ctx.storage, series),
        targets=target_watches(
            ctx.storage,
            series,
            window=params.monitoring.loss_window,
            tracking_uri=ctx.tracking_uri,
        ),
        storage=ctx.storage,
        series=series,
        params=params,
        source=source,
        clock=clock,
        forecaster=forecaster,
        retrain=run_retrain,
        stop=stop,
        on_event=on_event,
    )
