"""What stands around every page: who may ask (the host, the access token, the CSRF
token), what every template can use, and how an error is answered, by its kind."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote

from flask import Flask, abort, redirect, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers.response import Response as BaseResponse

from ..config.model import Limits
from ..errors import Busy, DiskError, NotFound, XlflowError
from ..intake.upload import size_limit_mb
from ..issues import Severity
from ..register.load import load_register
from ..wording import (
    OVERDUE_LABEL,
    VERDICT_LABELS,
    days_left_text,
    disk_error_text,
    task_label,
    units_shown,
)
from .console import Console, outbox_link, short_time

ACCESS_COOKIE = "xlflow_access"


def install(app: Flask, console: Console) -> None:
    """The guard, the templates' helpers and the error handlers, on one app."""
    _guard(app, console)
    _template_helpers(app, console)
    _error_handlers(app, console)


def upload_limit(limits: Limits) -> int:
    """The bytes one request may carry: a mail or archive at the size collect reads, plus
    the form around it."""
    return int(limits.max_uncompressed_mb * 1024 * 1024) + 1024 * 1024


def _guard(app: Flask, console: Console) -> None:
    config, allowed = console.config, console.config.allowed_hosts

    @app.before_request
    def guard() -> BaseResponse | None:
        # the limits as xlflow.toml says them now: an edit of [limits] needs no restart
        request.max_content_length = upload_limit(console.limits)
        if allowed is not None and request.host not in allowed:
            abort(
                403,
                f"拒绝访问：请求的主机名“{request.host}”不是本控制台的地址。"
                f"请直接打开 {config.url}",
            )
        if config.token is not None:
            given = request.args.get("token")
            if given is not None and hmac.compare_digest(given, config.token):
                response = redirect(request.path)
                response.set_cookie(ACCESS_COOKIE, given, httponly=True, samesite="Strict")
                return response
            cookie = request.cookies.get(ACCESS_COOKIE, "")
            if not hmac.compare_digest(cookie, config.token):
                abort(401, "需要访问令牌：请打开启动 xlflow serve 时显示的带 token 的网址。")
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("Origin")
            if origin and origin not in ("null", f"http://{request.host}"):
                abort(403, "拒绝访问：请求来自其他网站。")
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            if not hmac.compare_digest(sent, console.csrf_token):
                abort(
                    403,
                    "页面已过期（缺少或不匹配的校验令牌），操作未执行。请刷新页面后重试。",
                )
        return None


def _template_helpers(app: Flask, console: Console) -> None:
    @app.context_processor
    def common() -> dict[str, Any]:
        ws = console.ws
        return {
            "csrf_token": console.csrf_token,
            "office": ws.settings.office.name,
            "root": str(ws.root),
            "verdict_label": lambda v: VERDICT_LABELS.get(v, str(v)),
            "short_time": short_time,
            "days_text": days_left_text,
            "OVERDUE": OVERDUE_LABEL,
            "ERROR": Severity.ERROR,
        }

    def task_name(task_id: str) -> str:
        ws = console.ws
        task = load_register(ws).task(task_id)
        return task_label(task, ws.settings.register) if task else ""

    app.jinja_env.globals["outbox_link"] = outbox_link
    app.jinja_env.globals["task_name"] = task_name
    app.jinja_env.globals["units_shown"] = units_shown
    app.jinja_env.globals["size_limit_mb"] = lambda name: size_limit_mb(name, console.limits)
    app.jinja_env.filters["q"] = lambda s: quote(str(s), safe="")


def status_of(exc: XlflowError) -> int:
    """The HTTP status that answers an error, by its kind."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Busy):
        return 409
    if isinstance(exc, DiskError):
        return 500
    return 400  # Invalid, the settings and the register among them


def _error_page(message: str, code: int) -> tuple[str, int]:
    return render_template("error.html", message=message, code=code), code


def _error_handlers(app: Flask, console: Console) -> None:
    @app.errorhandler(XlflowError)
    def library_error(exc: XlflowError) -> tuple[str, int]:
        return _error_page(str(exc), status_of(exc))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
        limits = console.limits
        message = (
            f"上传的内容太大，一次最多 {limits.max_uncompressed_mb:g} MB；"
            f"每个表格不超过 {limits.max_file_mb:g} MB。没有保存任何文件。"
        )
        return _error_page(message, 413)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        default = {404: "没有这个页面或文件。", 405: "不支持这种请求。"}.get(code, exc.name)
        message = exc.description if exc.description and code in (401, 403, 400) else default
        return _error_page(message, code)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        app.logger.exception("xlflow serve: %s %s", request.method, request.path)
        return _error_page("出现了意外错误；详情见运行 xlflow serve 的窗口。", 500)

    @app.errorhandler(OSError)
    def disk_error(exc: OSError) -> tuple[str, int]:
        return _error_page(disk_error_text(exc), 500)
