"""The retrain trigger: k-of-n hysteresis, a cooldown and de-duplication over monitor signals.

Each checked bar feeds :meth:`RetrainTrigger.update` with the signals raised on it (for
example ``{"decay"}``, ``{"drift"}``, or none). The trigger fires when at least ``k`` of the
last ``n`` checked bars raised a signal (one noisy bar is not enough, a persistent one is),
and then stays quiet:

- while the retrain it asked for is running (``pending``), so one cause yields one retrain
  however many bars keep signalling (de-duplication); :meth:`done` ends it;
- for ``cooldown`` bars after it fired, whatever the outcome of the retrain;
- the hysteresis window restarts empty after each fire and again when the retrain is done,
  so a new fire needs ``k`` fresh signals.

A *forcing* signal (``alert``: a retrain an operator's alert asked for, see
:mod:`volcast.monitoring.requests`) is enough on its own, without ``k`` of ``n``; the
cooldown and the de-duplication hold for it as for any other.

Like the detectors it is a small river-style object: ``update(...) -> self``, read-only
``fired``/``reason``, no clock, no randomness; it pickles (the stream worker stores it with
the rest of the monitoring state).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Self

from volcast.errors import ConfigError

FORCING: frozenset[str] = frozenset({"alert"})
"""Signals that fire the trigger on their own (still subject to cooldown and pending)."""


class RetrainTrigger:
    """Fires when ``k`` of the last ``n`` bars signalled, at most once per ``cooldown`` bars."""

    def __init__(self, *, k: int = 3, n: int = 6, cooldown: int = 24) -> None:
        if not 1 <= k <= n:
            raise ConfigError(f"retrain trigger needs 1 <= k <= n, got k={k}, n={n}")
        if cooldown < 0:
            raise ConfigError(f"retrain trigger cooldown must be >= 0 bars, got {cooldown}")
        self.k = k
        self.n = n
        self.cooldown = cooldown
        self._window: deque[frozenset[str]] = deque(maxlen=n)
        self.n_seen_ = 0
        self.pending_ = False
        self.last_fired_at_: int | None = None
        self.n_fired_ = 0
        self.n_suppressed_ = 0
        self._fired = False
        self._reason: tuple[str, ...] = ()

    def update(self, signals: Iterable[str] = ()) -> Self:
        """Record one checked bar and the signals raised on it; sets :attr:`fired`."""
        raised = frozenset(signals)
        self._window.append(raised)
        self.n_seen_ += 1
        self._fired = False
        hits = [s for s in self._window if s]
        if len(hits) < self.k and not raised & FORCING:
            return self
        if self.pending_ or self.in_cooldown:
            if raised:
                self.n_suppressed_ += 1
            return self
        self._fired = True
        self._reason = tuple(sorted(set().union(*hits)))
        self.pending_ = True
        self.last_fired_at_ = self.n_seen_
        self.n_fired_ += 1
        self._window.clear()
        return self

    def done(self) -> Self:
        """The retrain asked for has finished (whatever its outcome).

        The signals seen while it ran belong to the cause already acted on: the hysteresis
        window restarts empty.
        """
        self.pending_ = False
        self._window.clear()
        return self

    @property
    def in_cooldown(self) -> bool:
        """Whether fewer than ``cooldown`` bars have passed since the last fire."""
        if self.last_fired_at_ is None:
            return False
        return self.n_seen_ - self.last_fired_at_ < self.cooldown

    @property
    def fired(self) -> bool:
        """Whether the last :meth:`update` fired the trigger."""
        return self._fired

    @property
    def reason(self) -> tuple[str, ...]:
        """The signals behind the last fire (sorted), empty before the first."""
        return self._reason

    @property
    def hits(self) -> int:
        """Bars with a signal in the current hysteresis window."""
        return sum(1 for s in self._window if s)
