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
import threading
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
            'plaintext_login = "允许明文发送密码"\n'
            "timeout_seconds = 5\n"
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
    pymap = _start_pymap(imap_port)
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


class Proxy:
    """A TCP relay between the client and a server, to play a network that fails: after
    `after` times the client asks for a whole message (BODY.PEEK[]), it hangs up
    (`mode="drop"`), stops answering (`"stall"`), or answers each such request `delay`
    seconds late (`"slow"`)."""

    def __init__(self, port: int, mode: str = "drop", after: int = 1, delay: float = 0.0) -> None:
        self.target, self.mode, self.after, self.delay = port, mode, after, delay
        self.asked = 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.port = int(self.server.getsockname()[1])
        self.done = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.done.set()
        self.server.close()

    def _accept(self) -> None:
        while not self.done.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_client and b"BODY.PEEK[]" in data:
                    self.asked += 1
                    if self.asked > self.after and self.mode == "drop":
                        break
                    if self.asked > self.after and self.mode == "stall":
                        self.done.wait(600)
                        break
                    if self.mode == "slow":
                        time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def _start_pymap(port: int, *tls: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__)), str(port), *map(str, tls)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextlib.contextmanager
def tls_imap(cert: Path, key: Path) -> Iterator[int]:
    """pymap offering STARTTLS with this certificate; its port."""
    port = free_port()
    pymap = _start_pymap(port, cert, key)
    try:
        _wait_for(port, pymap)
        yield port
    finally:
        pymap.kill()
        pymap.communicate(timeout=30)


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (a DNS name, or an IP address), and its key."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alt = x509.DNSName(name)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


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


def _run_pymap(port: int, tls: list[str]) -> None:
    from pymap.main import main

    if sys.platform == "win32":
        # asyncio's loop on Windows has no signal handlers; the harness kills the process
        asyncio.AbstractEventLoop.add_signal_handler = lambda *a, **k: None  # type: ignore[method-assign]
    security = ["--cert", tls[0], "--key", tls[1]] if tls else ["--no-tls"]
    sys.argv = ["pymap", "--host", "127.0.0.1", "--port", str(port), *security, "dict"]
    main()


if __name__ == "__main__":
    _run_pymap(int(sys.argv[1]), sys.argv[2:])
