"""The live sources built by the registry from environment settings, against the replay server."""

from __future__ import annotations

import pytest

from volcast.config import Params, Settings
from volcast.errors import ConfigError
from volcast.sources.registry import make_source

from .conftest import API_KEY, CASES, FORMING, Case, ReplayServer, Reply


@pytest.mark.parametrize("case", CASES, ids=str)
def test_make_source_reads_base_url_and_key_from_the_environment(
    case: Case, server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"VOLCAST_{case.settings_prefix}_BASE_URL", server.url)
    if case.api_key is not None:
        monkeypatch.setenv(f"VOLCAST_{case.settings_prefix}_API_KEY", API_KEY)
    server.queue(case.path, Reply(body=case.body()))

    source = make_source(case.name, settings=Settings(), params=Params())
    bars = source.fetch(symbol=case.symbol, interval="1h")

    assert type(source) is case.cls
    assert source.live is True
    # The real clock is long past the recorded bars: all closed, OANDA's flag still counts.
    expected = 48 if case.name == "oanda" else 49
    assert len(bars) == expected
    assert (bars["timestamp"] <= FORMING).all()
    request = server.requests[0]
    if case.api_key is not None:
        assert API_KEY in (
            request.query.get("apikey"),
            request.headers.get("authorization", "")[7:],
        )


@pytest.mark.parametrize(
    ("name", "env_var"),
    [
        ("twelvedata", "VOLCAST_TWELVEDATA_API_KEY"),
        ("alphavantage", "VOLCAST_ALPHAVANTAGE_API_KEY"),
        ("oanda", "VOLCAST_OANDA_API_KEY"),
    ],
)
def test_make_source_without_the_key_names_the_env_var(name: str, env_var: str) -> None:
    with pytest.raises(ConfigError, match=env_var):
        make_source(name, settings=Settings(), params=Params())


def test_keyless_sources_need_no_environment() -> None:
    for name in ("cryptocompare", "binance"):
        assert make_source(name, settings=Settings(), params=Params()).name == name
