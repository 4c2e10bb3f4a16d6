"""The dataset's profile report: rendered in the stage, or in a second process meanwhile.

The ydata-profiling report of 20,000 hourly bars takes seconds of pure-Python plotting, and
``volcast pipeline`` has nothing to wait for it: the model stages only read the dataset.
:class:`BackgroundProfiles` renders the page in a spawned process (a fresh interpreter:
nothing of the parent's threads or locks is inherited) while training runs on the other CPU,
and writes it when the run ends; the parent keeps the storage, so the write is atomic as any
other. ``volcast features`` on its own renders in the stage (:class:`InlineProfiles`).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from volcast.storage import Storage


@dataclass(frozen=True)
class ProfileJob:
    """What the profile report of one dataset is made from."""

    dataset: pd.DataFrame
    title: str
    max_rows: int
    synthetic: bool

    def render(self) -> bytes:
        """The report's HTML page."""
        from volcast.features.profile import profile_html

        html = profile_html(
            self.dataset, title=self.title, max_rows=self.max_rows, synthetic=self.synthetic
        )
        return html.encode("utf-8")


def _render(job: ProfileJob) -> bytes:  # the child process's entry point
    return job.render()


class Profiles(Protocol):
    """Where a stage hands its profile report."""

    def submit(self, storage: Storage, relpath: str, job: ProfileJob) -> str:
        """Have ``job`` written to ``relpath``; returns the report's path."""
        ...


class InlineProfiles:
    """Render and write at once."""

    def submit(self, storage: Storage, relpath: str, job: ProfileJob) -> str:
        """Render ``job`` and write it now."""
        return storage.write_bytes(relpath, job.render())


class BackgroundProfiles:
    """Render in a spawned process; :meth:`finish` waits for the pages and writes them."""

    @staticmethod
    def worthwhile() -> bool:
        """Whether this process may use a second CPU (else rendering aside only competes)."""
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0)) > 1
        return (os.cpu_count() or 1) > 1

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[Storage, str, Future[bytes]]] = []

    def submit(self, storage: Storage, relpath: str, job: ProfileJob) -> str:
        """Start rendering ``job``; the file exists once :meth:`finish` has returned."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            # not niced: a niced render starved behind the walk-forward and then held up the
            # training run, which waits for it (benchmarks/train.py, 2.5x vs 2.3x)
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        self._pending.append((storage, relpath, self._pool.submit(_render, job)))
        return storage.url(relpath)

    def abandon(self) -> None:
        """Stop without waiting or writing (another error ends the run); never raises."""
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def finish(self) -> None:
        """Write every rendered page (raising the first render's error) and stop the process."""
        try:
            for storage, relpath, page in self._pending:
                storage.write_bytes(relpath, page.result())
        finally:
            self._pending.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
