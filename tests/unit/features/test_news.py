"""News features: the as-of join has no look-ahead, the aggregates are right, the switch works.

The boundary test uses hand-built timestamps one second either side of, and exactly on, bar
edges; the property test checks on random headlines that every row is unchanged when all
headlines published at or after that row's close are removed (so no row can see them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volcast.config import FeatureParams, TargetParams
from volcast.errors import ConfigError
from volcast.features import build_dataset
from volcast.features.news import NEWS_FEATURES, assign_to_bars, join_news, news_features

from .bars import random_walk_bars

H = pd.Timedelta(hours=1)
T0 = pd.Timestamp("2024-01-02 10:00", tz="UTC")
BARS = pd.Series([T0, T0 + H, T0 + 2 * H, T0 + 3 * H])  # opens; closes 11, 12, 13, 14
SEC = pd.Timedelta(seconds=1)


def scored(*pairs: tuple[pd.Timestamp, float]) -> pd.DataFrame:
    return pd.DataFrame({"published": [p for p, _ in pairs], "score": [s for _, s in pairs]})


def test_a_headline_counts_from_the_close_of_the_bar_it_was_published_in() -> None:
    published = pd.Series(
        [
            T0 - SEC,  # before the first bar opened: dropped
            T0,  # exactly the first open: bar 0
            T0 + H - SEC,  # one second before bar 0 closes: bar 0
            T0 + H,  # exactly on bar 0's close = bar 1's open: bar 1, never row 0
            T0 + H + SEC,  # one second into bar 1: bar 1
            T0 + 4 * H - SEC,  # one second before the last close: bar 3
            T0 + 4 * H,  # exactly the last close: no row has seen it yet
            T0 + 4 * H + SEC,  # after the last close: unused
        ]
    )
    rows = assign_to_bars(published, BARS, interval="1h")
    assert rows.tolist() == [-1, 0, 0, 1, 1, 3, -1, -1]


def test_the_counts_and_means_per_bar_follow_the_rule() -> None:
    news = news_features(
        BARS,
        scored((T0 + H - SEC, 1.0), (T0 + H, -1.0), (T0 + H + SEC, 0.5), (T0 + 4 * H, 1.0)),
        interval="1h",
        half_life_bars=6,
    )
    assert news["news_count"].tolist() == [1.0, 2.0, 0.0, 0.0]
    assert news["news_mean"].tolist() == [1.0, -0.25, 0.0, 0.0]
    assert not news.isna().any().any()


def test_headlines_in_a_gap_count_in_the_first_bar_closing_after_them() -> None:
    friday = pd.Timestamp("2024-01-05 20:00", tz="UTC")
    sunday = pd.Timestamp("2024-01-07 22:00", tz="UTC")
    bars = pd.Series([friday, friday + H, sunday, sunday + H])
    saturday_news = pd.Timestamp("2024-01-06 12:00", tz="UTC")
    rows = assign_to_bars(pd.Series([saturday_news, friday + 2 * H]), bars, interval="1h")
    assert rows.tolist() == [2, 2]  # not bar 1 (closed Friday 22:00, before they came out)


def test_recency_weighting_matches_a_direct_sum() -> None:
    rng = np.random.default_rng(3)
    bars = pd.Series(pd.date_range("2024-01-01", periods=60, freq="1h", tz="UTC"))
    published = bars.iloc[0] + pd.to_timedelta(rng.uniform(0, 62 * 3600, 80), unit="s")
    heads = scored(*zip(published, rng.uniform(-1, 1, 80), strict=True))
    news = news_features(bars, heads, interval="1h", half_life_bars=3.0)
    closes = bars + H
    for t in (0, 7, 30, 59):
        seen = heads["published"] < closes[t]
        age_h = (closes[t] - heads.loc[seen, "published"]).dt.total_seconds() / 3600
        weight = 0.5 ** (age_h / 3.0)
        assert news["news_ewm_count"][t] == pytest.approx(weight.sum(), rel=1e-9)
        expected = (weight * heads.loc[seen, "score"]).sum() / weight.sum()
        assert news["news_ewm_mean"][t] == pytest.approx(expected, rel=1e-9)


def test_no_row_changes_when_later_headlines_are_removed() -> None:
    """The look-ahead proof: row t depends only on headlines published before c_t."""
    rng = np.random.default_rng(11)
    bars = random_walk_bars(120, seed=4, weekend_gaps=True)
    span = (bars["timestamp"].iloc[-1] - bars["timestamp"].iloc[0]).total_seconds() + 7200
    offsets = rng.uniform(-3600, span, 300)
    offsets[:40] = np.round(offsets[:40] / 3600) * 3600  # many exactly on bar edges
    published = bars["timestamp"].iloc[0] + pd.to_timedelta(offsets, unit="s")
    heads = scored(*zip(published, rng.uniform(-1, 1, 300), strict=True))
    full = news_features(bars["timestamp"], heads, interval="1h", half_life_bars=4)
    closes = bars["timestamp"] + H
    for t in range(0, len(bars), 7):
        known = heads.loc[heads["published"] < closes[t]]
        partial = news_features(bars["timestamp"], known, interval="1h", half_life_bars=4)
        pd.testing.assert_series_equal(partial.iloc[t], full.iloc[t], check_names=False)
        later = heads.loc[heads["published"] >= closes[t]].assign(score=9.0)
        poisoned = news_features(
            bars["timestamp"], pd.concat([known, later]), interval="1h", half_life_bars=4
        )
        pd.testing.assert_frame_equal(poisoned.iloc[: t + 1], full.iloc[: t + 1])


def test_the_switch_adds_the_columns_only_when_on() -> None:
    bars = random_walk_bars(300, seed=2)
    target = TargetParams(floor_source="fixed")
    heads = pd.DataFrame(
        {
            "published": bars["timestamp"].iloc[::5] + pd.Timedelta(minutes=30),
            "title": ["Profits improve on strong demand", "Losses mount as default fears grow"]
            * 30,
        }
    )
    off = build_dataset(bars, features=FeatureParams(), target=target, interval="1h")
    assert not set(NEWS_FEATURES) & set(off.columns)
    on_params = FeatureParams(news=True)
    on = build_dataset(bars, features=on_params, target=target, interval="1h", headlines=heads)
    assert list(on.columns[-6:]) == [*NEWS_FEATURES, "rv", "target"]
    pd.testing.assert_frame_equal(on.drop(columns=list(NEWS_FEATURES)), off)
    assert on["news_count"].sum() == 60
    assert set(on.loc[on["news_count"] > 0, "news_mean"]) == {1.0, -1.0}
    with pytest.raises(ConfigError, match="no headlines"):
        build_dataset(bars, features=on_params, target=target, interval="1h")


def test_join_news_scores_titles_with_the_configured_scorer() -> None:
    frame = pd.DataFrame({"timestamp": BARS, "x": 1.0})
    heads = pd.DataFrame(
        {
            "published": [T0 + SEC, T0 + H + SEC],
            "title": ["Earnings improve", "Company warns of losses"],
        }
    )
    out = join_news(frame, heads, interval="1h", features=FeatureParams(news=True))
    assert out["news_mean"].tolist() == [1.0, -1.0, 0.0, 0.0]
    assert out["x"].tolist() == [1.0] * 4


def test_no_headlines_and_unordered_or_undated_ones() -> None:
    empty = news_features(
        BARS, scored().astype({"published": "datetime64[ns, UTC]"}), interval="1h",
        half_life_bars=6,
    )  # fmt: skip
    assert (empty.to_numpy() == 0).all()
    published = pd.Series([T0 + 2 * H + SEC, pd.NaT, T0 + SEC], dtype="datetime64[ns, UTC]")
    assert assign_to_bars(published, BARS, interval="1h").tolist() == [2, -1, 0]
