"""The `xlflow` command: a thin layer over the library, and the only part that prints.

Each command lives in the module of its group (`setup`, `rounds`, `decisions`,
`organisation`, `year`, `data`, `console`), loaded only when the command runs or is
listed: `xlflow status` imports `rounds` and the library steps it calls, nothing else
(click's lazy group, as its documentation draws it).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from .shared import forgiving_output

# command -> the module of its group; a new command is defined in its group's module and
# named here
COMMANDS = {
    "init": "setup",
    "register": "setup",
    "directory": "setup",
    "generate": "rounds",
    "collect": "rounds",
    "merge": "rounds",
    "report": "rounds",
    "status": "rounds",
    "remind": "rounds",
    "receipts": "rounds",
    "accept": "decisions",
    "exclude": "decisions",
    "undo": "decisions",
    "extend": "decisions",
    "forward": "organisation",
    "roll-up": "organisation",
    "scorecard": "year",
    "history": "year",
    "export": "data",
    "mail": "mail",
    "demo": "console",
    "start": "console",
    "serve": "console",
}


class LazyGroup(click.Group):
    """A group whose commands are imported from their module when one is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        found: Any = getattr(
            importlib.import_module(f"{__package__}.{module}"), cmd_name.replace("-", "_")
        )
        assert isinstance(found, click.Command), cmd_name
        return found


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
# the version from the package itself, not its installed metadata: the bundle (PyInstaller)
# carries no metadata, and `xlflow --version` there ended in a traceback
@click.version_option(version=sys.modules["xlflow"].__version__, prog_name="xlflow")
def main() -> None:
    """xlflow：重点任务进展填报的分发、收集、核验与汇总。

    \b
    典型流程：
      xlflow generate --round 2019-H1 --deadline 2019-07-10   生成各处室填报表
      （把 outbox/2019-H1/forms/ 中的表格发给各处室；收回的附件放入 inbox/）
      xlflow collect --round 2019-H1                          核验收到的文件、生成回执
      xlflow merge --round 2019-H1                            生成汇总表
    """
    forgiving_output()


def commands() -> dict[str, click.Command]:
    """Every command, by name, each group's module loaded (for whoever lists them all)."""
    context = click.Context(main)
    found = {name: main.get_command(context, name) for name in main.list_commands(context)}
    return {name: command for name, command in found.items() if command is not None}


__all__ = ["COMMANDS", "commands", "main"]
