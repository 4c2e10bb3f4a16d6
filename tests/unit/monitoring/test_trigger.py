"""The retrain trigger: k-of-n hysteresis, cooldown and de-duplication on hand-built signals."""

from __future__ import annotations

import pickle

import pytest

from volcast.errors import ConfigError
from volcast.monitoring.trigger import RetrainTrigger

D = {"decay"}
N: set[str] = set()


def fires(trigger: RetrainTrigger, sequence: list[set[str]]) -> list[int]:
    """Indices of the bars on which the trigger fired."""
    return [i for i, signals in enumerate(sequence) if trigger.update(signals).fired]


def test_isolated_signals_do_not_fire_but_k_of_n_do() -> None:
    trigger = RetrainTrigger(k=3, n=5, cooldown=0)
    assert fires(trigger, [D, N, N, N, N, D, N, N, N, N, D]) == []
    assert fires(RetrainTrigger(k=3, n=5, cooldown=0), [D, N, D, N, D]) == [4]
    assert fires(RetrainTrigger(k=3, n=5, cooldown=0), [D, N, N, D, N, N, D]) == []


def test_one_cause_retrains_once_while_pending() -> None:
    trigger = RetrainTrigger(k=2, n=3, cooldown=0)
    assert fires(trigger, [D] * 10) == [1]
    assert trigger.pending_
    assert trigger.n_suppressed_ == 7  # bar 2 holds one signal only: below k, nothing to suppress
    trigger.done()
    assert fires(trigger, [D, D]) == [1]  # fresh window after the fire: k new signals


def test_cooldown_counts_bars_since_the_fire() -> None:
    trigger = RetrainTrigger(k=1, n=1, cooldown=5)
    assert trigger.update(D).fired
    trigger.done()
    # bars 2..5 are inside the cooldown, bar 6 is the first after it
    assert fires(trigger, [D, D, D, D, D]) == [4]
    assert trigger.n_fired_ == 2


def test_reason_names_every_signal_in_the_window() -> None:
    trigger = RetrainTrigger(k=2, n=3, cooldown=0)
    fires(trigger, [{"drift"}, N, {"decay"}])
    assert trigger.fired
    assert trigger.reason == ("decay", "drift")
    assert trigger.hits == 0  # the window restarted empty


def test_state_survives_pickling_mid_sequence() -> None:
    trigger = RetrainTrigger(k=3, n=4, cooldown=2)
    fires(trigger, [D, D])
    copy = pickle.loads(pickle.dumps(trigger))
    assert copy.update(D).fired
    assert trigger.update(D).fired
    assert copy.n_seen_ == trigger.n_seen_ == 3


@pytest.mark.parametrize(
    "kwargs", [{"k": 0, "n": 3}, {"k": 4, "n": 3}, {"k": 1, "n": 1, "cooldown": -1}]
)
def test_invalid_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        RetrainTrigger(**kwargs)


def test_an_alert_is_enough_on_its_own_but_keeps_the_cooldown_and_pending() -> None:
    alert = {"alert"}
    trigger = RetrainTrigger(k=3, n=6, cooldown=5)
    assert trigger.update(alert).fired  # one forcing signal, no k of n
    assert trigger.reason == ("alert",)
    assert not trigger.update(alert).fired  # the retrain it asked for still runs
    trigger.done()
    assert fires(trigger, [alert, alert, N]) == []  # cooldown: 5 bars since the fire
    assert trigger.n_suppressed_ == 3
    assert trigger.update(alert).fired  # the sixth bar after the fire
