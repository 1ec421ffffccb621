"""The pass over the tasks that writes 任务明细 and 历次进展 as the tasks come, in this
process or beside it.

At 40,000 tasks XlsxWriter's cell writing is some three quarters of a merge, and reading
the ledger, combining the answers and laying out each row the rest. Beyond
LAY_OUT_APART_ABOVE tasks a companion process does the second part, recording what
`task_pass` does to its sheets, and this process replays it on the real ones: the same
code makes the same calls in the same order, so the workbook is the same, sooner."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import HelperDied
from ...ledger.book import Ledger
from ...pool import start_companion, stop_companion
from .detail import DetailRows
from .figures import Consolidation, Inputs, Tally, task_rows
from .history import HistoryRows
from .look import Styles


def task_pass(
    ledger: Ledger,
    inputs: Inputs,
    st: Styles,
    title: str,
    sheets: Sequence[Any],
    flush: Callable[[], None] = lambda: None,
) -> Tally:
    """The detail sheet, and the history sheet if `sheets` has it, a task at a time; the
    figures for the overview counted on the way. `flush` is called every BATCH tasks."""
    detail = DetailRows(sheets[0], st, inputs, title)
    history = HistoryRows(sheets[1], st, inputs, title) if len(sheets) > 1 else None
    tally = Tally(inputs)
    for n, row in enumerate(task_rows(inputs, ledger), 1):
        tally.add(row)
        detail.add(row.state)
        if history is not None:
            history.add(row)
        if n % BATCH == 0:
            flush()
    detail.close()
    if history is not None:
        history.close()
    return tally


BATCH = 100  # tasks a message

_STRING, _BLANK, _NUMBER, _ROW, _CALL = range(5)


@dataclass(frozen=True)
class _FormatRef:
    index: int  # in Styles.made


@dataclass(frozen=True)
class _PassDone:
    counts: dict[str, Any]  # Tally.counts(): the records stay where they are


@dataclass(frozen=True)
class _PassFailed:
    error: BaseException


class _RecordedBook:
    """Stands in for the workbook where the rows are laid out: a format is its place in
    the order made, and every call on a sheet is kept, to be replayed on the real one."""

    def __init__(self) -> None:
        self.formats = 0
        self.calls: list[tuple[Any, ...]] = []

    def add_format(self, properties: dict[str, Any] | None = None) -> _FormatRef:
        self.formats += 1
        return _FormatRef(self.formats - 1)

    def sheet(self, index: int) -> _RecordedSheet:
        return _RecordedSheet(index, self.calls)

    def take(self) -> list[tuple[Any, ...]]:
        calls, self.calls[:] = list(self.calls), []
        return calls


class _RecordedSheet:
    def __init__(self, index: int, calls: list[tuple[Any, ...]]) -> None:
        self.index, self.calls = index, calls

    def write_string(self, row: int, col: int, text: str, fmt: _FormatRef) -> None:
        self.calls.append((_STRING, self.index, row, col, text, fmt.index))

    def write_blank(self, row: int, col: int, _: None, fmt: _FormatRef) -> None:
        self.calls.append((_BLANK, self.index, row, col, None, fmt.index))

    def write_number(self, row: int, col: int, number: float, fmt: _FormatRef) -> None:
        self.calls.append((_NUMBER, self.index, row, col, number, fmt.index))

    def set_row(self, row: int, height: float) -> None:
        self.calls.append((_ROW, self.index, row, height))

    def __getattr__(self, name: str) -> Callable[..., None]:
        def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((_CALL, self.index, name, args, kwargs))

        return call


def _real(value: Any, formats: Sequence[Any]) -> Any:
    if isinstance(value, _FormatRef):
        return formats[value.index]
    if isinstance(value, dict):
        return {k: _real(v, formats) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_real(v, formats) for v in value)
    return value


def _replay(calls: list[tuple[Any, ...]], sheets: Sequence[Any], formats: Sequence[Any]) -> None:
    for call in calls:
        code, ws = call[0], sheets[call[1]]
        if code == _STRING:
            ws.write_string(call[2], call[3], call[4], formats[call[5]])
        elif code == _BLANK:
            ws.write_blank(call[2], call[3], None, formats[call[5]])
        elif code == _NUMBER:
            ws.write_number(call[2], call[3], call[4], formats[call[5]])
        elif code == _ROW:
            ws.set_row(call[2], call[3])
        else:
            getattr(ws, call[2])(*_real(call[3], formats), **_real(call[4], formats))


def lay_out(conn: Any, ledger_path: Path, inputs: Inputs, title: str, sheets: int) -> None:
    """The companion: task_pass on recorded sheets, sent over `conn` a batch at a time,
    then the figures; or what went wrong."""
    try:
        book = _RecordedBook()
        st = Styles(book, inputs.settings)
        recorded = [book.sheet(i) for i in range(sheets)]
        with Ledger(ledger_path) as ledger:
            tally = task_pass(
                ledger, inputs, st, title, recorded, flush=lambda: conn.send(book.take())
            )
        conn.send(book.take())
        conn.send(_PassDone(tally.counts()))
    except BaseException as exc:  # whatever it was, the writer must hear of it
        try:
            conn.send(_PassFailed(exc))
        except Exception:  # an exception that cannot be pickled is told by its text
            with contextlib.suppress(Exception):
                conn.send(_PassFailed(RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def replay_pass(
    ledger_path: Path, inputs: Inputs, title: str, sheets: Sequence[Any], formats: Sequence[Any]
) -> Consolidation:
    proc, conn = start_companion(lay_out, ledger_path, inputs, title, len(sheets))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                proc.join(5)  # the pipe can end before the exit code is known
                code = proc.exitcode
                how = f"被信号 {-code} 终止" if code is not None and code < 0 else f"代码 {code}"
                raise HelperDied(
                    f"汇总时逐条整理任务的辅助进程意外退出（{how}），汇总表未生成；"
                    "多为内存不足或进程被结束。请重新运行 xlflow merge。"
                ) from None
            if isinstance(message, list):
                _replay(message, sheets, formats)
            elif isinstance(message, _PassDone):
                tally = Tally(inputs)
                tally.add_counts(message.counts)
                return tally.result()
            else:
                raise message.error
    finally:
        stop_companion(proc, conn)
