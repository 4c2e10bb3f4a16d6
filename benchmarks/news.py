"""Do news-sentiment features help? QLIKE with and without them, and Diebold-Mariano tests.

No archive of real, timestamped headlines is reachable offline, so the headlines here are
synthetic, written as an RSS 2.0 feed (the recorded format of docs/sources.md) and read back
through volcast's own feed parser, scorer (the Loughran-McDonald lexicon) and as-of join
(``features.news: true``). Two headline processes, over the same bars:

- ``unrelated``: headlines arrive at random (Poisson, one every two hours on average) with a
  random tone, independent of the market. News features carry no information; the honest
  result is "no measurable effect", and a gain here would reveal leakage or overfitting.
- ``leading``: a planted signal to check the machinery end to end. During bar ``t`` more,
  and more negative, headlines come out when bar ``t+1``'s realized variance will be high
  relative to its trailing day (the news leads the volatility). They are published within bar
  ``t``, so the as-of join may use them from bar ``t``'s close on; a model that gains nothing
  here would reveal a broken join. This says nothing about real news.

Each variant runs volcast's walk-forward (``volcast backtest``: expanding window, refit every
``train.refit_every`` bars, purge gap = horizon, all parameters from params.yaml; nothing is
tuned on the test window) over the candidates that can use extra columns (``lightgbm``,
``lightgbm_har``) and HAR as the reference. Bars: the embedded synthetic sample (6,000 hourly
bars) and the real BTC/USD hourly file (../shared/data/coinbase_btcusd_1h.csv) when present.

    uv run python benchmarks/news.py                 # both bar sets, both headline processes
    uv run python benchmarks/news.py --bars sample   # only the sample (about a minute)
"""

from __future__ import annotations

import argparse
import email.utils
import time
import warnings
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from volcast.config import FeatureParams, Params, load_params
from volcast.evaluation.backtest import walk_forward
from volcast.evaluation.metrics import diebold_mariano, qlike_losses
from volcast.features.builder import FeatureBuilder, build_dataset
from volcast.features.estimators import estimator_arrays
from volcast.features.news import NEWS_FEATURES
from volcast.features.target import resolve_target
from volcast.quality.cleaning import clean_bars
from volcast.sources.csv import CsvSource
from volcast.sources.news_parse import parse_feed
from volcast.sources.sample import SampleSource

ROOT = Path(__file__).resolve().parents[1]
BTC = ROOT.parent / "shared" / "data" / "coinbase_btcusd_1h.csv"
CANDIDATES = ("har", "lightgbm", "lightgbm_har")
SEED = 2024

POSITIVE = (
    "{asset} gains as outlook improves",
    "Strong demand lifts {asset}; analysts see profitable quarter",
    "{asset} rallies on better than expected growth",
)
NEGATIVE = (
    "{asset} slides as traders fear losses",
    "Default worries hit {asset} after weak data",
    "{asset} tumbles in volatile session; crisis concerns mount",
)
NEUTRAL = (
    "{asset} steady ahead of central bank minutes",
    "What to watch for {asset} this week",
    "{asset} trading volumes in focus",
)


def load_bars(which: str, params: Params) -> tuple[pd.DataFrame, str]:
    if which == "btc":
        bars = CsvSource(path=BTC).fetch(symbol="BTC/USD", interval="1h")
        return clean_bars(bars, interval="1h"), "BTC"
    s = params.sample
    bars = SampleSource(
        n_bars=s.n_bars, seed=s.seed, start=s.start, regime_shift_at=s.regime_shift_at
    ).fetch(symbol="EUR/USD", interval="1h")
    return clean_bars(bars, interval="1h"), "EUR/USD"


def headline_times(bars: pd.DataFrame, process: str, rng: np.random.Generator) -> pd.DataFrame:
    """Publication times and tone (-1, 0, 1) of the synthetic headlines."""
    n = len(bars)
    log_rv = np.log(np.maximum(estimator_arrays(bars)["var_gk"], 1e-12))
    if process == "unrelated":
        counts = rng.poisson(0.5, n)
        surprise = np.zeros(n)
    else:  # leading: bar t's news anticipates bar t+1's surprise vs the trailing day
        trailing = pd.Series(log_rv).rolling(24, min_periods=24).mean().to_numpy()
        nxt = np.r_[log_rv[1:], np.nan]
        surprise = np.nan_to_num(nxt - trailing)
        counts = rng.poisson(0.2 + 1.5 * np.clip(surprise, 0, 3))
    rows = np.repeat(np.arange(n), counts)
    offsets = rng.uniform(0, 3600, rows.size)
    published = bars["timestamp"].to_numpy()[rows] + pd.to_timedelta(offsets, unit="s")
    if process == "unrelated":
        tone = rng.choice([-1, 0, 1], rows.size)
    else:
        tone = np.where(surprise[rows] > 0.5, -1, rng.choice([-1, 0, 1], rows.size))
    return pd.DataFrame({"published": pd.to_datetime(published, utc=True), "tone": tone})


def rss_feed(heads: pd.DataFrame, asset: str, rng: np.random.Generator) -> bytes:
    """The headlines as an RSS 2.0 document (RFC 822 dates, guids), like a wire feed."""
    pools = {-1: NEGATIVE, 0: NEUTRAL, 1: POSITIVE}
    items = []
    for i, (when, tone) in enumerate(zip(heads["published"], heads["tone"], strict=True)):
        title = rng.choice(pools[int(tone)]).format(asset=asset)
        date = email.utils.format_datetime(when.to_pydatetime(), usegmt=True)
        items.append(
            f'<item><title>{escape(title)}</title><guid isPermaLink="false">bench-{i}</guid>'
            f"<link>https://news.example.com/{i}</link><pubDate>{date}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>synthetic benchmark wire</title><link>https://news.example.com/</link>"
        "<description>synthetic</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def measure(which: str, process: str, params: Params) -> None:
    rng = np.random.default_rng(SEED)
    bars, asset = load_bars(which, params)
    heads = headline_times(bars, process, rng)
    parsed = parse_feed(rss_feed(heads, asset, rng), feed="benchmark")  # the source's parser
    target = resolve_target(bars, params.target)
    on = params.features.model_copy(update={"news": True})
    data = build_dataset(
        bars, features=on, target=target, interval="1h", headlines=parsed.headlines
    )
    base = FeatureBuilder(features=params.features, target=target, interval="1h").feature_names
    results = {}
    for label, names in (("without", base), ("with", [*base, *NEWS_FEATURES])):
        began = time.perf_counter()
        result = walk_forward(
            data,
            candidates=CANDIDATES,
            train=params.train,
            horizon=params.target.horizon,
            interval="1h",
            feature_names=names,
            n_jobs=1,
        )
        results[label] = (result.predictions, time.perf_counter() - began)
    print(
        f"\n{which} bars ({len(bars)}), {process} headlines: {len(parsed.headlines)} "
        f"({(data['news_count'] > 0).mean():.0%} of bars have one)"
    )
    print(f"  {'model':13s} {'QLIKE without':>13s} {'with':>8s} {'DM':>7s} {'p':>8s}")
    without, with_ = results["without"][0], results["with"][0]
    for model in CANDIDATES:
        a = without.loc[without["model"] == model].set_index("timestamp")
        b = with_.loc[with_["model"] == model].set_index("timestamp").loc[a.index]
        loss_a = qlike_losses(a["realized_variance"], a["forecast_variance"])
        loss_b = qlike_losses(b["realized_variance"], b["forecast_variance"])
        stat, p = diebold_mariano(loss_b, loss_a, horizon=params.target.horizon)
        print(
            f"  {model:13s} {loss_a.mean():13.4f} {loss_b.mean():8.4f} {stat:+7.2f} {p:8.2g}",
            flush=True,
        )
    seconds = sum(s for _, s in results.values())
    print(f"  ({len(a)} out-of-sample bars; DM < 0: with news is better; {seconds:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", default="sample,btc", help="sample,btc")
    parser.add_argument("--process", default="unrelated,leading", help="unrelated,leading")
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    params = params.model_copy(update={"features": FeatureParams(**params.features.model_dump())})
    for which in args.bars.split(","):
        if which == "btc" and not BTC.exists():
            print(f"\nbtc: {BTC} not found, skipped")
            continue
        for process in args.process.split(","):
            measure(which, process, params)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    main()
