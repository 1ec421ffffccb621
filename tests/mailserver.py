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
import shutil
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
    a message to any address in `too_big_for` as too large (552). The next n messages to
    an address in `for_now` are refused for now (451, as greylisting does), and to one in
    `hang_up` answered 421, after which the client hangs up; while `busy`, every sender
    is refused for now (451, as a server that takes so many messages an hour does)."""

    refused: set[str] = field(default_factory=set)
    too_big_for: set[str] = field(default_factory=set)
    for_now: dict[str, int] = field(default_factory=dict)
    hang_up: dict[str, int] = field(default_factory=dict)
    busy: int = 0
    received: list[Received] = field(default_factory=list)

    def clear(self) -> None:
        self.refused.clear()
        self.too_big_for.clear()
        self.for_now.clear()
        self.hang_up.clear()
        self.busy = 0
        self.received.clear()

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.busy > 0:
            self.busy -= 1
            return "451 4.7.1 Too many messages, slow down"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        for replies, reply in (
            (self.for_now, "451 4.7.1 Greylisted, try again later"),
            (self.hang_up, "421 4.7.0 Too many messages, closing"),
        ):
            if replies.get(address, 0) > 0:
                replies[address] -= 1
                return reply
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
    user: str = USER  # the office's account
    logins: bool = False  # a login per address (Dovecot), else a folder per address (pymap)

    def imap(self, user: str | None = None) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        conn.login(user or self.user, PASSWORD)
        return conn

    def _box(self, address: str) -> tuple[imaplib.IMAP4, str]:
        local = address.split("@")[0]
        if self.logins:
            return self.imap(local), "INBOX"
        conn = self.imap()
        conn.create(local)
        return conn, local

    def deliver_to(self, address: str, data: bytes) -> None:
        """What the mail server does with a message for `address`: into its mailbox."""
        conn, box = self._box(address)
        assert conn.append(box, None, None, data)[0] == "OK"
        conn.logout()

    def read(self, address: str) -> list[bytes]:
        """Every message in `address`'s mailbox, as its owner opens it."""
        conn, box = self._box(address)
        conn.select(box, readonly=True)
        _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
        conn.logout()
        return [part[1] for part in data if isinstance(part, tuple)]

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
            f'user = "{self.user}"\n'
            'sender = "kjj@example.gov.cn"\n'
        )


def dovecot_missing() -> str:
    """'' where Dovecot can run here, else what to install."""
    if sys.platform == "win32":
        return "Dovecot runs on Linux only"
    return "" if shutil.which("dovecot") else "apt-get install dovecot-imapd"


DOVECOT_CONF = """protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@contextlib.contextmanager
def _dovecot(users: list[str]) -> Iterator[int]:
    """Debian's Dovecot in the foreground, its configuration, users (each with PASSWORD)
    and maildirs in a folder of its own; its IMAP port."""
    import grp
    import os
    import pwd
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="xlflow-dovecot-"))
    root.chmod(0o755)  # Dovecot's own user reads its configuration and writes the mail
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    if os.geteuid() == 0:
        uid, gid, who = "dovecot", "dovecot", ""
        shutil.chown(root / "mail", "dovecot", "dovecot")
    else:  # as this user throughout
        me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        uid, gid = me, group
        who = f"default_internal_user = {me}\ndefault_internal_group = {group}\ndefault_login_user = {me}"
    (root / "passwd").write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}::::::\n" for u in users))
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(root=root, port=port, uid=uid, gid=gid, users=who))
    process = subprocess.Popen(
        ["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for(port, process)
        yield port
    finally:
        process.terminate()
        process.communicate(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mail_servers(dovecot_users: list[str] | None = None) -> Iterator[Servers]:
    """pymap and aiosmtpd; with `dovecot_users`, Debian's Dovecot instead of pymap, with
    a login for the office ("office") and for each of those users."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login in (USER.encode(), b"office")  # pymap's account, Dovecot's
            and data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok)

    smtp_port = free_port()
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
        if dovecot_users is None:
            imap_port = free_port()
            pymap = _start_pymap(imap_port)
            try:
                _wait_for(imap_port, pymap)
                yield Servers(imap_port, smtp_port, keeper)
            finally:
                pymap.kill()
                pymap.communicate(timeout=30)
        else:
            with _dovecot(["office", *dovecot_users]) as imap_port:
                yield Servers(imap_port, smtp_port, keeper, "office", logins=True)
    finally:
        smtp.stop()


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
