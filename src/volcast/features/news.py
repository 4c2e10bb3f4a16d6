"""News-sentiment features per bar, joined as of each bar's close with no look-ahead (SPEC 19).

Bars are labelled by their open: bar ``t`` spans ``[t, t + interval)`` and its feature row
(the one that forecasts bar ``t+1``) is computed at its close ``c_t = t + interval``.

**The as-of rule.** A headline published at ``p`` is assigned to the first bar whose close is
*strictly* after it: ``pandas.merge_asof(headlines, closes, left_on="published",
right_on="close", direction="forward", allow_exact_matches=False)``. So

- a headline published during bar ``t`` (``t <= p < c_t``) first counts in row ``t``, built
  at ``c_t``, and never in a row of an earlier bar;
- a headline published exactly at a bar edge ``p = c_t`` (= the next bar's open) belongs to
  bar ``t+1``: ``allow_exact_matches=False`` is deliberate, because row ``t`` summarises what
  was known *before* bar ``t`` closed, and a headline stamped on the close instant may react
  to that close (a same-stamp join would leak it into the row that forecasts the next bar
  from the close);
- a headline published while no bar is open (a weekend gap) counts in the first bar that
  closes after it;
- a headline published at or after the last bar's close is not used yet (no row has seen
  it), and headlines published before the first bar opened are dropped.

**The features** of row ``t`` (0 where nothing was published; never NaN, so they add no
warm-up):

- ``news_count``: headlines assigned to bar ``t``;
- ``news_mean``: their mean sentiment score;
- ``news_ewm_mean``: the recency-weighted mean score of every headline assigned to bars
  ``<= t``, weight ``2 ** (-(c_t - p) / half_life)`` with ``half_life`` =
  ``features.news_half_life_bars`` bars of calendar time;
- ``news_ewm_count``: the sum of those weights (a decayed headline intensity).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from volcast.config import FeatureParams
from volcast.errors import DataQualityError
from volcast.features.sentiment import Scorer, make_scorer
from volcast.schemas import TIMESTAMP, interval_seconds

NEWS_FEATURES: Final = ("news_count", "news_mean", "news_ewm_mean", "news_ewm_count")


def news_feature_names(features: FeatureParams) -> tuple[str, ...]:
    """The news columns a dataset built with ``features`` carries (none when news is off)."""
    return NEWS_FEATURES if features.news else ()


def score_headlines(headlines: pd.DataFrame, scorer: Scorer) -> pd.DataFrame:
    """``published`` and ``score`` of each headline (its ``title`` scored by ``scorer``)."""
    missing = [c for c in ("published", "title") if c not in headlines.columns]
    if missing:
        raise DataQualityError(
            f"headlines lack the column(s) {missing}", failed_checks=["news_schema"]
        )
    titles = headlines["title"].fillna("").astype(str).tolist()
    return pd.DataFrame(
        {
            "published": pd.to_datetime(headlines["published"], utc=True),
            "score": scorer.score(titles),
        }
    )


def assign_to_bars(published: pd.Series, timestamps: pd.Series, *, interval: str) -> np.ndarray:
    """For each publication time, the position of the bar it first counts in (-1: none).

    The as-of rule of the module docstring: the first bar whose close is strictly after
    the publication time; -1 before the first bar's open or at/after the last close.
    """
    stamps = pd.DatetimeIndex(pd.to_datetime(timestamps, utc=True))
    closes = pd.DataFrame(
        {
            "close": stamps + pd.Timedelta(seconds=interval_seconds(interval)),
            "row": np.arange(len(stamps), dtype="int64"),
        }
    )
    left = pd.DataFrame(
        {
            "published": pd.to_datetime(published, utc=True).reset_index(drop=True),
            "order": np.arange(len(published)),
        }
    ).sort_values("published", kind="stable")
    valid = left["published"].notna().to_numpy()
    rows = np.full(len(published), -1, dtype="int64")
    if len(stamps) == 0 or not valid.any():
        return rows
    matched = pd.merge_asof(
        left.loc[valid],
        closes,
        left_on="published",
        right_on="close",
        direction="forward",
        allow_exact_matches=False,
    )
    found = matched["row"].notna() & (matched["published"] >= stamps[0])
    rows[matched.loc[found, "order"].to_numpy()] = matched.loc[found, "row"].to_numpy("int64")
    return rows


def news_features(
    timestamps: pd.Series,
    scored: pd.DataFrame,
    *,
    interval: str,
    half_life_bars: float,
) -> pd.DataFrame:
    """The :data:`NEWS_FEATURES` of each bar (one row per timestamp, positional index)."""
    n = len(timestamps)
    step = float(interval_seconds(interval))
    rows = assign_to_bars(scored["published"], timestamps, interval=interval)
    used = rows >= 0
    row = rows[used]
    score = scored["score"].to_numpy(dtype="float64")[used]
    count = np.bincount(row, minlength=n).astype("float64")
    total = np.bincount(row, weights=score, minlength=n)
    mean = np.divide(total, count, out=np.zeros(n), where=count > 0)

    stamps = pd.DatetimeIndex(pd.to_datetime(timestamps, utc=True)).as_unit("ns")
    base = int(stamps.asi8[0]) if n else 0  # seconds from the first open keep float precision
    close_s = (stamps.asi8 - base) / 1e9 + step
    published_ns = pd.DatetimeIndex(pd.to_datetime(scored["published"], utc=True)).as_unit("ns")
    published_s = (published_ns.asi8[used] - base) / 1e9
    half_life = half_life_bars * step
    # each headline's weight at the close of the bar it enters: 2 ** (-(c_t - p) / hl)
    weight = np.exp2(-(close_s[row] - published_s) / half_life)
    enter_w = np.bincount(row, weights=weight, minlength=n)
    enter_ws = np.bincount(row, weights=weight * score, minlength=n)
    decay = np.exp2(-np.diff(close_s, prepend=close_s[:1]) / half_life) if n else np.zeros(0)
    ewm_w = np.zeros(n)
    ewm_ws = np.zeros(n)
    acc_w = acc_ws = 0.0
    for t in range(n):  # S_t = S_{t-1} * 2 ** (-(c_t - c_{t-1}) / hl) + entering headlines
        acc_w = acc_w * decay[t] + enter_w[t]
        acc_ws = acc_ws * decay[t] + enter_ws[t]
        ewm_w[t] = acc_w
        ewm_ws[t] = acc_ws
    ewm_mean = np.divide(ewm_ws, ewm_w, out=np.zeros(n), where=ewm_w > 1e-12)
    return pd.DataFrame(
        {
            "news_count": count,
            "news_mean": mean,
            "news_ewm_mean": ewm_mean,
            "news_ewm_count": ewm_w,
        },
        index=pd.RangeIndex(n),
    )


def join_news(
    frame: pd.DataFrame,
    headlines: pd.DataFrame,
    *,
    interval: str,
    features: FeatureParams,
    scorer: Scorer | None = None,
) -> pd.DataFrame:
    """``frame`` (one row per bar, with ``timestamp``) plus the news columns, as of each close.

    ``headlines`` needs ``published`` and ``title``; they are scored with ``scorer`` (default:
    the one ``features.news_scorer`` names) unless they already carry a ``score`` column.
    """
    if "score" in headlines.columns and "published" in headlines.columns:
        scored = headlines[["published", "score"]]
    else:
        scored = score_headlines(headlines, scorer or make_scorer(features))
    news = news_features(
        frame[TIMESTAMP].reset_index(drop=True),
        scored.reset_index(drop=True),
        interval=interval,
        half_life_bars=features.news_half_life_bars,
    )
    news.index = frame.index
    return pd.concat([frame, news], axis=1)
