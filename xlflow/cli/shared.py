"""What every command of `xlflow` shares: exit codes, errors in words, the working folder,
output that never fails on its encoding, tables, and the common options."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import IntEnum
from typing import Any

import click

from ..errors import XlflowError
from ..text import display_width, json_text, visible
from ..wording import (
    disk_error_text,
)


class Exit(IntEnum):
    """How a command ends, besides 0 (done: rejected returns are results, not failures)."""

    PROBLEMS = 1  # a check found something to fix (directory --check)
    USAGE = 2  # a wrong option or argument; click's own usage errors use it too
    FAILED = 3  # could not run: bad settings, an unreadable register, a busy folder


class Usage(click.UsageError):
    exit_code = Exit.USAGE


class Failed(click.ClickException):
    """xlflow could not run (bad settings, unreadable register, busy folder)."""

    exit_code = Exit.FAILED

    def show(self, file: Any = None) -> None:
        echo(f"错误：{self.format_message()}", err=True)


@contextmanager
def library_errors() -> Iterator[None]:
    try:
        yield
    except XlflowError as exc:
        raise Failed(str(exc)) from None
    except OSError as exc:  # a full disk, a folder without write permission
        raise Failed(disk_error_text(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise Failed(
            f"台账 .xlflow/ledger.sqlite 无法读写（{exc}）。收到的原始文件仍在 inbox/ 中。"
        ) from None


def open_workspace(path: str) -> Any:
    from ..workspace import Workspace

    with library_errors():
        return Workspace.open(path)


def echo(message: object = "", err: bool = False, nl: bool = True) -> None:
    """Every line the CLI prints: control characters from outside (a file name, a mail's
    subject, a sheet name) are shown, never sent to the terminal to act on."""
    click.echo(visible(str(message), keep="\n\t"), err=err, nl=nl)


def print_json(data: Any) -> None:
    """JSON in the output's own encoding, lossless in any: redirected on Chinese Windows
    that is GBK, and a character GBK lacks is a \\u escape, never a "?"."""
    echo(json_text(data, getattr(sys.stdout, "encoding", None) or "utf-8"))


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table that lines up CJK text (counted as two columns)."""
    widths = [display_width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    lines = ["  ".join(pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def well_formed(value: str | None, option: str) -> str | None:
    """A text argument as typed: bytes that are not UTF-8 (a GBK name typed in a UTF-8
    shell, or passed by a script) are a usage error naming the option, not a crash later."""
    if value is not None and any("\udc80" <= ch <= "\udcff" for ch in value):
        shown = visible(value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        raise Usage(f"{option} 的值“{shown}”中有不是 UTF-8 的字节；请检查终端的编码后重新输入。")
    return value


def parse_date(value: str | None) -> dt.date | None:
    from ..errors import Invalid
    from ..model import parse_date

    try:
        return parse_date(value)
    except Invalid as exc:
        raise click.BadParameter(str(exc)) from None


workspace_option = click.option(
    "-w",
    "--workspace",
    "workspace",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="工作文件夹（含 xlflow.toml、templates/、inbox/、outbox/）。",
)


def folder_to_make(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For commands that create their folder: an optional DIRECTORY, or -w like the others."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "-w",
            "--workspace",
            "workspace",
            type=click.Path(file_okay=False),
            help=f"同 DIRECTORY：{help_text}",
        )(command)
        return click.argument("directory", required=False, type=click.Path(file_okay=False))(
            command
        )

    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
round_option = click.option(
    "--round", "round_id", required=True, help="轮次，如 2019-H1、2019-Q3、2019年上半年。"
)


def forgiving_output() -> None:
    """Output to a file or a pipe never ends a command on a character its encoding lacks.

    Redirected, Python writes in the system's code page (GBK on Chinese Windows), which has
    no ␀ and no rare CJK; such a character is written as "?" and the line goes on. On a
    console every character shows as typed. PYTHONIOENCODING=utf-8 chooses UTF-8 instead
    (docs/install.md)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if not stream.isatty() and isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors="replace")
        except (AttributeError, ValueError, OSError):  # a closed or foreign stream
            continue
