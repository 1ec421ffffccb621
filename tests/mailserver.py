"""Real mail servers for the tests of `xlflow mail`: pymap (IMAP, in memory) in a process
of its own, and aiosmtpd (SMTP) in a thread of this one. Both are what a mail client meets
on the wire: LOGIN, EXAMINE, UID SEARCH and FETCH; EHLO, AUTH, MAIL, RCPT and DATA.

Run as a script, this starts pymap, with the one change Windows needs: pymap stops on
SIGINT and SIGTERM through asyncio's signal handlers, which Windows' event loop lacks, so
there the harness ends it by killing the process instead."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

USER, PASSWORD = "demouser", "demopass"  # pymap's demo account


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> str:
    """'' where both servers can run, else what to install."""
    try:
        import aiosmtpd  # noqa: F401
        import pymap  # noqa: F401
    except ImportError:
        return "pip install pymap aiosmtpd"
    return ""


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpKeeper:
    """aiosmtpd's handler: keeps what it is sent; refuses the addresses in `refused`, and
    a message to any address in `too_big_for` as too large (552)."""

    refused: set[str] = field(default_factory=set)
    too_big_for: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.too_big_for & set(envelope.rcpt_tos):
            return "552 5.3.4 Message size exceeds fixed maximum message size"
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 Ok: queued"


@dataclass
class Servers:
    imap_port: int
    smtp_port: int
    smtp: SmtpKeeper

    def imap(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        conn.login(USER, PASSWORD)
        return conn

    def settings(self) -> str:
        """The [mail] section of xlflow.toml for these servers."""
        return (
            "\n[mail]\n"
            'host = "127.0.0.1"\n'
            f"imap_port = {self.imap_port}\n"
            f"smtp_port = {self.smtp_port}\n"
            'security = "none"\n'
            f'user = "{USER}"\n'
            'sender = "kjj@example.gov.cn"\n'
        )


@contextlib.contextmanager
def mail_servers() -> Iterator[Servers]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok)

    imap_port, smtp_port = free_port(), free_port()
    pymap = subprocess.Popen(
        [sys.executable, str(Path(__file__)), str(imap_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    keeper = SmtpKeeper()
    smtp = Controller(
        keeper,
        hostname="127.0.0.1",
        port=smtp_port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    smtp.start()
    try:
        _wait_for(imap_port, pymap)
        yield Servers(imap_port, smtp_port, keeper)
    finally:
        smtp.stop()
        pymap.kill()
        pymap.communicate(timeout=30)


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    until = time.monotonic() + 60
    while time.monotonic() < until:
        if process.poll() is not None:
            err = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
            raise RuntimeError(f"pymap ended: {err}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"pymap did not listen on {port} within 60 s")


def _run_pymap(port: int) -> None:
    from pymap.main import main

    if sys.platform == "win32":
        # asyncio's loop on Windows has no signal handlers; the harness kills the process
        asyncio.AbstractEventLoop.add_signal_handler = lambda *a, **k: None  # type: ignore[method-assign]
    sys.argv = ["pymap", "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict"]
    main()


if __name__ == "__main__":
    _run_pymap(int(sys.argv[1]))
