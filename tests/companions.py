"""Stand-ins for the merge's companion process (`reporting.workbook.passes.lay_out`), at module
level so that a spawned companion (Windows, macOS) can import them by name, as a forked one
(Linux) simply has them: each breaks the companion in its own process, whichever way it
was started."""

from __future__ import annotations

import os
from typing import Any


def starting(stand_in: Any) -> Any:
    """A `start_companion` that starts `stand_in` in place of the companion it is asked
    for: the real `_lay_out` stays in place for the stand-in to call."""
    from xlflow import pool

    return lambda target, *args: pool.start_companion(stand_in, *args)


def exits_with_3(conn: Any, *args: Any) -> None:
    os._exit(3)


def _passes() -> Any:
    import importlib

    return importlib.import_module("xlflow.reporting.workbook.passes")


def _lay_out_with(tally: Any, conn: Any, *args: Any) -> None:
    """The real companion with its tally replaced; put back after, since in mutation
    testing (XLFLOW_POOL_IN_PROCESS=1) the companion is a thread of the test's process."""
    passes = _passes()
    kept = passes.Tally.add
    passes.Tally.add = tally
    try:
        passes.lay_out(conn, *args)
    finally:
        passes.Tally.add = kept


def counts_nothing(conn: Any, *args: Any) -> None:
    """The companion's own tally raises, as a bug in it would."""

    def broken_tally(self: Any, row: Any) -> None:
        raise ValueError(f"cannot count {row.state.task.id}")

    _lay_out_with(broken_tally, conn, *args)


def raises_what_pickle_cannot_name(conn: Any, *args: Any) -> None:
    class Unpicklable(Exception):  # a local class: pickle cannot name it
        pass

    def unpicklable(self: Any, row: Any) -> None:
        raise Unpicklable("lost in transit")

    _lay_out_with(unpicklable, conn, *args)
