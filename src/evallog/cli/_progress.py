"""Progress bars of the CLI: tqdm on stderr, only when stderr is a terminal and ``--quiet`` is off.

Every command gets ``-q/--quiet`` (see :func:`evallog.cli.build_parser`). A
command wraps its long work in ``with progress(args, "reading", total=n) as bar``
and calls ``bar.update()``, or hands ``bar`` to a library function as its
``progress(stage, done, total)`` callback (a new stage starts a new bar).
Nothing is drawn when stderr is redirected, so scripts and CI logs stay clean.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["progress", "Progress", "enabled"]


def enabled(args: argparse.Namespace) -> bool:
    """Whether bars are drawn: stderr is a terminal and ``--quiet`` was not given."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


class Progress:
    """A tqdm bar per stage; a no-op when disabled."""

    def __init__(self, on: bool, desc: str, total: int | None, unit: str) -> None:
        self.on = on
        self.desc = desc
        self.unit = unit
        self._bar: Any = None
        if on:
            self._open(desc, total)

    def _open(self, desc: str, total: int | None) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        self.close()
        self.desc = desc
        self._bar = tqdm(total=total, desc=desc, unit=self.unit, file=sys.stderr, leave=False,
                         dynamic_ncols=True, mininterval=0.2)

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        """The ``progress(stage, done, total)`` callback the library functions take."""
        if not self.on:
            return
        if self._bar is None or stage != self.desc or (total is not None and total != self._bar.total):
            self._open(stage, total)
        if done > self._bar.n:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def progress(args: argparse.Namespace, desc: str, *, total: int | None = None,
             unit: str = "it") -> Iterator[Progress]:
    """A :class:`Progress` for the ``with`` block, closed (and erased) at its end."""
    bar = Progress(enabled(args), desc, total, unit)
    try:
        yield bar
    finally:
        bar.close()
