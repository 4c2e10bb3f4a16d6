"""Headline sentiment scores: the Loughran-McDonald lexicon by default, FinBERT when asked.

``features.news_scorer`` picks the scorer (:func:`make_scorer`):

- ``lexicon`` (default, no extra dependency): the Loughran-McDonald finance word lists
  (vendored in ``volcast/features/lexicon``, see its README for source and terms). A headline
  is tokenised into words (letters and inner apostrophes, upper-cased); ``positive`` and
  ``negative`` count the words in each list, a positive word with a negation (``no``, ``not``,
  ``none``, ``neither``, ``never``, ``nobody``) among the three words before it counting as
  negative (Loughran and McDonald 2011, section II.C). The score is the polarity
  ``(positive - negative) / (positive + negative)`` in [-1, 1], 0 for a headline with no
  sentiment word.
- ``finbert``: a FinBERT-style sequence classifier (labels ``positive``/``negative``/
  ``neutral``) from a **local** directory (``features.news_finbert_model``) through the
  ``transformers`` pipeline; the score is P(positive) - P(negative). volcast never downloads
  a model: when ``transformers`` is not installed or the directory does not hold a model, a
  :class:`~volcast.errors.ConfigError` says which and how to fix it.

Scoring is pure computation on strings (the lexicon's word lists are package data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from volcast.config import FeatureParams
from volcast.errors import ConfigError

_WORD: Final = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
NEGATIONS: Final = frozenset({"NO", "NOT", "NONE", "NEITHER", "NEVER", "NOBODY"})
NEGATION_WINDOW: Final = 3


class Scorer(Protocol):
    """Turns headlines into sentiment scores in [-1, 1]."""

    name: str

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """One float score per text."""
        ...


@lru_cache(maxsize=4)
def load_word_list(name: str) -> frozenset[str]:
    """A vendored Loughran-McDonald list: ``positive``, ``negative`` or ``uncertainty``."""
    resource = resources.files("volcast.features") / "lexicon" / f"lm_{name}.txt"
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"the vendored word list lm_{name}.txt is missing") from None
    return frozenset(word.strip() for word in text.splitlines() if word.strip())


def tokenize(text: str) -> list[str]:
    """Upper-cased words of ``text`` (letters, inner apostrophes kept)."""
    return [word.upper() for word in _WORD.findall(text)]


class LexiconScorer:
    """Loughran-McDonald polarity with negated positives (see the module docstring)."""

    name = "lexicon"

    def __init__(
        self, *, positive: frozenset[str] | None = None, negative: frozenset[str] | None = None
    ) -> None:
        self.positive = positive if positive is not None else load_word_list("positive")
        self.negative = negative if negative is not None else load_word_list("negative")

    def counts(self, text: str) -> tuple[int, int]:
        """(positive, negative) word counts of ``text``, negated positives as negatives."""
        words = tokenize(text)
        positive = negative = 0
        for i, word in enumerate(words):
            if word in self.negative:
                negative += 1
            elif word in self.positive:
                before = words[max(0, i - NEGATION_WINDOW) : i]
                if NEGATIONS.intersection(before):
                    negative += 1
                else:
                    positive += 1
        return positive, negative

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Polarity of each text: ``(pos - neg) / (pos + neg)``, 0 without sentiment words."""
        out = np.zeros(len(texts))
        for i, text in enumerate(texts):
            positive, negative = self.counts(text)
            if positive + negative:
                out[i] = (positive - negative) / (positive + negative)
        return out


class FinBertScorer:
    """A local FinBERT (``transformers`` text-classification pipeline): P(pos) - P(neg)."""

    name = "finbert"

    def __init__(self, model_dir: str | None, *, batch_size: int = 32) -> None:
        try:
            import transformers
        except ImportError:
            raise ConfigError(
                "features.news_scorer is finbert but the `transformers` package (with torch) "
                "is not installed; install both (uv add transformers torch) or set "
                "features.news_scorer: lexicon",
                check="features.news_scorer",
            ) from None
        if not model_dir:
            raise ConfigError(
                "features.news_scorer is finbert but features.news_finbert_model is not set: "
                "point it to a local directory holding a FinBERT model (e.g. a copy of "
                "ProsusAI/finbert); volcast never downloads a model",
                check="features.news_finbert_model",
            )
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"features.news_finbert_model {model_dir!r} is not a local model directory "
                "(no config.json)",
                check="features.news_finbert_model",
            )
        self.batch_size = batch_size
        self._pipe: Any = transformers.pipeline(
            "text-classification", model=str(path), tokenizer=str(path), top_k=None
        )

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) - P(negative) per text."""
        if not texts:
            return np.zeros(0)
        outputs = self._pipe(list(texts), batch_size=self.batch_size, truncation=True)
        scores = np.zeros(len(texts))
        for i, labels in enumerate(outputs):
            probs = {str(item["label"]).lower(): float(item["score"]) for item in labels}
            scores[i] = probs.get("positive", 0.0) - probs.get("negative", 0.0)
        return scores


def make_scorer(features: FeatureParams) -> Scorer:
    """The scorer ``features.news_scorer`` names."""
    if features.news_scorer == "finbert":
        return FinBertScorer(features.news_finbert_model)
    return LexiconScorer()
