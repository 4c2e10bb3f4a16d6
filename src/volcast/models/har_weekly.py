"""HAR-RV with an hour-of-week profile on a session clock: the seasonal HAR for markets that
keep business hours.

FX and equity volatility follow the working day of the financial centres, not the UTC clock:
the London and New York sessions, the Sunday reopening, scheduled releases (US payrolls on
Friday at 08:30 New York time) and the daylight-saving shifts that move all of them by an
hour in UTC twice a year (Andersen and Bollerslev 1998 model the DM/USD intraday pattern by
weekday and adjust for daylight saving for this reason). :class:`WeeklyHarModel` is
:class:`~volcast.models.baselines.HarModel` with one dummy per hour of the week read on the
``clock`` (New York by default) instead of additive hour and weekday dummies in UTC. It is a
candidate next to ``har``, so the walk-forward decides per series which calendar fits
(measured in docs/models.md: much better on EUR/USD hourly, worse on BTC, which trades
around the clock every day); on daily and longer bars it equals ``har``.
"""

from __future__ import annotations

from typing import ClassVar

from volcast.models.har import HarModel

SESSION_CLOCK = "America/New_York"
"""FX's trading day rolls at 17:00 New York time; US releases are set on that clock."""


class WeeklyHarModel(HarModel):
    """HAR-RV on log variance with hour-of-week dummies on a session clock."""

    name: ClassVar[str] = "har_weekly"

    def __init__(
        self,
        *,
        interval: str = "1h",
        horizon: int = 1,
        har_columns: tuple[str, ...] | None = None,
        seasonal: bool = True,
        season: str = "week",
        clock: str = SESSION_CLOCK,
    ) -> None:
        super().__init__(
            interval=interval,
            horizon=horizon,
            har_columns=har_columns,
            seasonal=seasonal,
            season=season,
            clock=clock,
        )
