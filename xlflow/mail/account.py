"""The office's mail account: its password, and a connection to read or to send with.

The password is never in xlflow.toml. It comes, in this order, from what the caller gives
(`--password-stdin`), from XLFLOW_MAIL_PASSWORD, or from the system's credential store
(Windows Credential Manager, the Secret Service on Linux) through `keyring`, where
`xlflow mail login` put it."""

from __future__ import annotations

import contextlib
import imaplib
import importlib
import os
import smtplib
import ssl
from typing import Any

from ..config.model import PLAINTEXT_CONSENT, MailSettings
from ..errors import MailError

PASSWORD_VARIABLE = "XLFLOW_MAIL_PASSWORD"
KEYRING_SERVICE = "xlflow-mail"
KEYRING_MISSING = (
    "系统凭据管理器需要 keyring 库：pip install 'xlflow[mail]'；"
    f"也可以不存密码，改用环境变量 {PASSWORD_VARIABLE} 或 --password-stdin。"
)


def require(settings: MailSettings) -> MailSettings:
    if not settings.configured:
        raise MailError(
            "还没有设置单位邮箱：请在 xlflow.toml 中加上 [mail] 一节，至少写明 host（邮件服务器，"
            '如 "mail.example.gov.cn"）和 user（邮箱账号），然后运行 xlflow mail login 保存密码。'
        )
    return settings


def tls(settings: MailSettings) -> ssl.SSLContext:
    """Certificates verified, always: the system's CAs, and an intranet server's own CA
    where `ca_file` names it. Verification is never turned off."""
    context = ssl.create_default_context()
    if settings.ca_file:
        try:
            context.load_verify_locations(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise MailError(
                f"[mail] ca_file {settings.ca_file} 无法作为根证书读取（{exc}）："
                "请填写单位 CA 证书（PEM 格式）的路径。"
            ) from None
    return context


def _plaintext_allowed(settings: MailSettings) -> None:
    if settings.security == "none" and settings.plaintext_login != PLAINTEXT_CONSENT:
        raise MailError(
            '[mail] security = "none" 会把邮箱密码以明文发给服务器，未登录。请改用 ssl 或 '
            f'starttls；确需明文（仅限本机或内网测试服务器）时，加上 plaintext_login = "{PLAINTEXT_CONSENT}"。'
        )


def account_name(settings: MailSettings) -> str:
    return f"{settings.user}@{settings.host}"


def _keyring() -> Any:
    """keyring, an optional dependency (the mail extra), or None where it is absent."""
    try:
        return importlib.import_module("keyring")
    except ImportError:
        return None


def password(settings: MailSettings, given: str | None = None) -> str:
    if given:
        return given
    if os.environ.get(PASSWORD_VARIABLE):
        return os.environ[PASSWORD_VARIABLE]
    keyring = _keyring()
    why = "" if keyring is not None else "（未安装 keyring，无法读取系统凭据管理器）"
    if keyring is not None:
        try:
            stored = keyring.get_password(KEYRING_SERVICE, account_name(settings))
        except Exception as exc:  # no credential store on this machine (a server, a CI)
            stored, why = None, f"（这台电脑的系统凭据管理器不可用：{exc}）"
        if stored:
            return str(stored)
    raise MailError(
        f"不知道邮箱 {settings.user} 的密码{why}：请先运行 xlflow mail login 把它存入系统凭据管理器，"
        f"或设置环境变量 {PASSWORD_VARIABLE}，或用 --password-stdin 传入。"
    )


def store_password(settings: MailSettings, secret: str) -> None:
    keyring = _keyring()
    if keyring is None:
        raise MailError(KEYRING_MISSING)
    try:
        keyring.set_password(KEYRING_SERVICE, account_name(settings), secret)
    except Exception as exc:
        raise MailError(f"无法存入系统凭据管理器（{exc}）。" + KEYRING_MISSING) from None


def open_imap(settings: MailSettings, secret: str) -> imaplib.IMAP4:
    """A logged-in IMAP connection; a refusal or an unreachable server is a MailError."""
    host, port = settings.imap
    _plaintext_allowed(settings)
    timeout = settings.timeout_seconds
    try:
        if settings.security == "ssl":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=tls(settings), timeout=timeout
            )
        else:
            conn = imaplib.IMAP4(host, port, timeout=timeout)
            if settings.security == "starttls":
                conn.starttls(tls(settings))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailError(_unreachable("收信（IMAP）", host, port, exc)) from None
    try:
        conn.login(settings.user, secret)
    except imaplib.IMAP4.error as exc:
        close_imap(conn)
        raise MailError(_refused(settings, exc)) from None
    return conn


def close_imap(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()


def open_smtp(settings: MailSettings, secret: str) -> smtplib.SMTP:
    """A logged-in SMTP connection; a refusal or an unreachable server is a MailError."""
    host, port = settings.smtp
    _plaintext_allowed(settings)
    timeout = settings.timeout_seconds
    try:
        if settings.security == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=tls(settings)
            )
        else:
            conn = smtplib.SMTP(host, port, timeout=timeout)
            if settings.security == "starttls":
                conn.starttls(context=tls(settings))
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(_unreachable("发信（SMTP）", host, port, exc)) from None
    try:
        conn.login(settings.user, secret)
    except smtplib.SMTPException as exc:
        close_smtp(conn)
        raise MailError(_refused(settings, exc)) from None
    return conn


def close_smtp(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


def _unreachable(what: str, host: str, port: int, exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"{what}服务器 {host}:{port} 的证书未通过验证（{exc.verify_message}）：连接已中止，"
            "密码没有发出。若是单位内网自建 CA 签发的证书，请在 [mail] ca_file 中写明该 CA 证书的路径；"
            "若证书上的名称与 host 不符，请把 host 改为证书上的名称。"
        )
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return (
        f"连接不上{what}服务器 {host}:{port}（{reason}）：请检查 xlflow.toml [mail] 的 host、"
        "端口和 security（ssl 用 993/465，starttls 用 143/587），以及这台电脑能否上网。"
    )


def _refused(settings: MailSettings, exc: BaseException) -> str:
    said = exc.args[-1] if exc.args else exc
    if isinstance(said, bytes):
        said = said.decode("utf-8", "replace")
    return (
        f"邮件服务器拒绝了账号 {settings.user} 的登录（{said}）：请确认账号和密码；"
        "政务邮箱多需在网页版设置中开启 IMAP/SMTP 并使用客户端专用密码，"
        "然后运行 xlflow mail login 重新保存。"
    )
