"""The web console's routes: each one calls the library as the CLI does, and renders.

Security, for a local app holding an office's data (docs/web.md):
- only the bound address is accepted in `Host` (DNS rebinding);
- every POST carries the page's CSRF token, and nothing changes on GET;
- away from 127.0.0.1 every request needs the access token;
- uploads go through `xlflow.receive` (sizes, names, never over a file), downloads come
  only from outbox/.
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
import logging
import secrets
import threading
import uuid
import webbrowser
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import (
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from waitress import create_server
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers.response import Response as BaseResponse

from ..errors import FolderBusy, XlflowError
from ..files import zip_folder
from ..generate.forms import generate_forms
from ..intake.collect import collect
from ..intake.decisions import decide, undo
from ..intake.remind import write_reminders
from ..intake.upload import MAX_FILES, Upload, receive, size_limit_mb
from ..issues import VERDICT_LABELS, Severity
from ..model import parse_round
from ..register.load import load_register
from ..reporting.bulletin import write_report
from ..reporting.consolidate import merge
from ..reporting.history import task_history
from ..reporting.status import all_rounds, round_status
from ..standing import OVERDUE_LABEL
from ..wording import task_label
from ..workspace import Workspace
from .outputs import round_outputs

LOOPBACK = ("127.0.0.1", "localhost", "::1")
ACCESS_COOKIE = "xlflow_access"


@dataclass(frozen=True)
class WebConfig:
    root: Path
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None  # required for every request when set (listening beyond loopback)

    @property
    def allowed_hosts(self) -> frozenset[str] | None:
        """The Host headers accepted; None where the server listens on every address."""
        if self.host in ("0.0.0.0", "::", ""):
            return None
        names = {self.host}
        if self.host in LOOPBACK:
            names |= {"127.0.0.1", "localhost", "[::1]"}
        hosts = {f"{n}:{self.port}" for n in names}
        if self.port == 80:
            hosts |= names
        return frozenset(hosts)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


@dataclass
class Job:
    """A collect started from the browser, followed by the progress bar."""

    id: str
    round_id: str
    label: str
    done: int = 0
    total: int = 0
    finished: bool = False
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class Jobs:
    """Collect runs one at a time on one long-lived thread: worker processes are forked
    from it, and their death signal follows the thread that forked them."""

    def __init__(self) -> None:
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xlflow-job")
        self._jobs: dict[str, Job] = {}
        self._guard = threading.Lock()

    def start(self, round_id: str, label: str, work: Callable[[Job], dict[str, Any]]) -> Job:
        job = Job(uuid.uuid4().hex, round_id, label)
        with self._guard:
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.summary = work(job)
            except XlflowError as exc:
                job.error = str(exc)
            except OSError as exc:
                job.error = (
                    f"文件读写失败：{exc.strerror or exc}。请检查磁盘空间和文件夹权限后重试。"
                )
            except Exception:  # shown on the page rather than lost in a thread
                logging.getLogger("xlflow.web").exception("xlflow serve: %s", label)
                job.error = "收集时出现了意外错误，已停止；详情见运行 xlflow serve 的窗口。inbox/ 中的文件未改动。"
            finally:
                job.finished = True

        self._runner.submit(run)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._guard:
            return self._jobs.get(job_id)


def _days_text(days: int | None) -> str:
    if days is None:
        return "未设报送时限"
    if days > 0:
        return f"距报送时限还有 {days} 天"
    if days == 0:
        return "今天是报送时限"
    return f"已超过报送时限 {-days} 天"


def _short_time(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    text = value.isoformat(timespec="minutes") if isinstance(value, dt.datetime) else value
    return text.replace("T", " ")[:16]


def create_app(config: WebConfig) -> Flask:
    """The console over one working folder. Open it with `serve`, or test it as a WSGI app."""
    ws = Workspace.open(config.root)
    limits = ws.settings.limits
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    csrf_token = secrets.token_urlsafe(32)
    # one request carries at most a mail or archive at the size collect reads, plus the form
    app.config.update(
        MAX_CONTENT_LENGTH=int(limits.max_uncompressed_mb * 1024 * 1024) + 1024 * 1024,
        MAX_FORM_PARTS=MAX_FILES + 20,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        JSON_AS_ASCII=False,
    )
    jobs = Jobs()
    allowed = config.allowed_hosts

    @app.before_request
    def guard() -> BaseResponse | None:
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
            if not hmac.compare_digest(sent, csrf_token):
                abort(
                    403,
                    "页面已过期（缺少或不匹配的校验令牌），操作未执行。请刷新页面后重试。",
                )
        return None

    @app.context_processor
    def common() -> dict[str, Any]:
        return {
            "csrf_token": csrf_token,
            "office": ws.settings.office.name,
            "root": str(ws.root),
            "verdict_label": lambda v: VERDICT_LABELS.get(v, str(v)),
            "short_time": _short_time,
            "days_text": _days_text,
            "OVERDUE": OVERDUE_LABEL,
            "ERROR": Severity.ERROR,
        }

    def outbox_link(path: Path | None) -> str | None:
        if path is None:
            return None
        rel = path.resolve().relative_to(ws.outbox.resolve()).as_posix()
        return url_for("download", rel=rel)

    app.jinja_env.globals["outbox_link"] = outbox_link

    def task_name(task_id: str) -> str:
        task = load_register(ws).task(task_id)
        return task_label(task, ws.settings.register) if task else ""

    app.jinja_env.globals["task_name"] = task_name

    @app.errorhandler(XlflowError)
    def library_error(exc: XlflowError) -> tuple[str, int]:
        code = 409 if isinstance(exc, FolderBusy) else 400
        return render_template("error.html", message=str(exc), code=code), code

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
        message = (
            f"上传的内容太大，一次最多 {limits.max_uncompressed_mb:g} MB；"
            f"每个表格不超过 {limits.max_file_mb:g} MB。没有保存任何文件。"
        )
        return render_template("error.html", message=message, code=413), 413

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        default = {404: "没有这个页面或文件。", 405: "不支持这种请求。"}.get(code, exc.name)
        message = exc.description if exc.description and code in (401, 403, 400) else default
        return render_template("error.html", message=message, code=code), code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        app.logger.exception("xlflow serve: %s %s", request.method, request.path)
        message = "出现了意外错误；详情见运行 xlflow serve 的窗口。"
        return render_template("error.html", message=message, code=500), 500

    @app.errorhandler(OSError)
    def disk_error(exc: OSError) -> tuple[str, int]:
        where = f"（{exc.filename}）" if exc.filename else ""
        message = f"文件读写失败{where}：{exc.strerror or exc}。请检查磁盘空间和文件夹权限后重试。"
        return render_template("error.html", message=message, code=500), 500

    # --- rounds ---

    @app.get("/")
    def rounds() -> str:
        return render_template("rounds.html", rounds=all_rounds(ws), today=dt.date.today())

    @app.post("/rounds")
    def new_round() -> BaseResponse:
        form = request.form
        deadline_text = form.get("deadline", "").strip()
        try:
            deadline = dt.date.fromisoformat(deadline_text) if deadline_text else None
        except ValueError:
            raise XlflowError(f"“{deadline_text}”不是日期；请写成 2019-07-10 这样。") from None
        rnd = parse_round(
            form.get("round", ""), title=form.get("title", "").strip() or None, deadline=deadline
        )
        result = generate_forms(ws, rnd, form.get("prefill_from", "").strip())
        flash(f"已生成 {len(result.forms)} 份填报表，可以下载后发给各处室。")
        return redirect(url_for("board", round_id=result.round.id), 303)

    # --- a round ---

    @app.get("/r/<round_id>")
    def board(round_id: str) -> str:
        status = round_status(ws, round_id)
        job = jobs.get(request.args.get("job", ""))
        return render_template(
            "board.html",
            status=status,
            counts=status.counts(),
            outputs=round_outputs(ws, status),
            job=job if job and job.finished and job.round_id == status.round.id else None,
            max_files=MAX_FILES,
            max_mb=limits.max_uncompressed_mb,
        )

    def start_collect(round_id: str, label: str, received: dict[str, Any]) -> Job:
        def work(job: Job) -> dict[str, Any]:
            def progress(done: int, total: int) -> None:
                job.done, job.total = done, total

            report = collect(ws, round_id, progress=progress)
            status = round_status(ws, round_id)
            return received | {
                "files": len(report.files),
                "counts": status.counts(),
                "missing": report.missing,
            }

        return jobs.start(round_id, label, work)

    def job_response(job: Job) -> BaseResponse | str:
        if request.headers.get("HX-Request"):
            return render_template("job.html", job=job, fragment=True)
        return redirect(url_for("job_page", job_id=job.id), 303)

    @app.post("/r/<round_id>/upload")
    def upload(round_id: str) -> BaseResponse | str:
        rnd = round_status(ws, round_id).round  # an unknown round is refused before saving
        files = [f for f in request.files.getlist("files") if f.filename or f.content_length]
        if not files:
            raise XlflowError(
                "没有选择文件。请把收到的表格、邮件或压缩包拖到框里，或点“选择文件”。"
            )
        result = receive(ws, [Upload(f.filename or "", f.stream) for f in files])
        job = start_collect(rnd.id, "核验收到的文件", {"received": result.to_dict()})
        return job_response(job)

    @app.post("/r/<round_id>/collect")
    def recollect(round_id: str) -> BaseResponse | str:
        rnd = round_status(ws, round_id).round
        return job_response(start_collect(rnd.id, "重新核验 inbox 中的文件", {}))

    @app.get("/jobs/<job_id>")
    def job_page(job_id: str) -> BaseResponse | str:
        job = jobs.get(job_id)
        if job is None:
            abort(404)
        if job.finished and not job.error:
            target = url_for("board", round_id=job.round_id, job=job.id)
            if request.headers.get("HX-Request"):
                response = Response("", 204)
                response.headers["HX-Redirect"] = target
                return response
            return redirect(target, 303)
        return render_template(
            "job.html", job=job, fragment=bool(request.headers.get("HX-Request"))
        )

    @app.get("/r/<round_id>/d/<division>")
    def division(round_id: str, division: str) -> str:
        status = round_status(ws, round_id)
        names = [d.division for d in status.divisions]
        if division not in names:
            abort(404)
        state = status.state.of(division)
        return render_template(
            "division.html",
            status=status,
            d=state,
            overdue=status.overdue(state),
            outputs=round_outputs(ws, status),
            fields=ws.settings.fields,
            contact_fields=ws.settings.contact,
            register=load_register(ws),
        )

    @app.get("/r/<round_id>/f/<sha256>")
    def unidentified(round_id: str, sha256: str) -> str:
        status = round_status(ws, round_id)
        record = next((f for f in status.state.files if f.sha256 == sha256), None)
        if record is None:
            abort(404)
        return render_template(
            "file.html", status=status, f=record, outputs=round_outputs(ws, status)
        )

    @app.post("/r/<round_id>/decide")
    def decision(round_id: str) -> BaseResponse:
        form = request.form
        action, sha = form.get("action", ""), form.get("sha256", "")
        by = form.get("by", "").strip() or None
        if action == "undo":
            result = undo(ws, round_id, sha, by)
        else:
            result = decide(ws, round_id, sha, action, form.get("reason", ""), by)
        verb = {"accept": "采用", "exclude": "不采用"}[result.decision.action]
        flash(
            f"已撤销对“{result.file.path}”的{verb}决定。"
            if result.undone
            else f"已记录：{verb}“{result.file.path}”。理由：{result.decision.reason}"
        )
        back = form.get("back", "")
        # only back to a page of this console: browsers read "/\\host" as "//host"
        if back.startswith("/r/") and "\\" not in back and "//" not in back:
            return redirect(back, 303)
        return redirect(url_for("board", round_id=round_id), 303)

    @app.post("/r/<round_id>/merge")
    def merged(round_id: str) -> BaseResponse:
        _, path = merge(ws, round_id)
        return redirect(outbox_link(path) or "/", 303)

    @app.post("/r/<round_id>/report")
    def notice(round_id: str) -> BaseResponse:
        result = write_report(ws, round_id)
        return redirect(outbox_link(result.path) or "/", 303)

    @app.post("/r/<round_id>/remind")
    def remind(round_id: str) -> BaseResponse:
        _, drafts, notes = write_reminders(ws, round_id)
        flash(
            f"已生成 {len(drafts)} 份催报邮件草稿（未发送）。"
            if drafts
            else "所有处室均已采用，无需催报。"
        )
        for note in notes:
            flash(note)
        return redirect(url_for("reminders", round_id=round_id), 303)

    @app.get("/r/<round_id>/reminders")
    def reminders(round_id: str) -> str:
        status = round_status(ws, round_id)
        return render_template("reminders.html", status=status, outputs=round_outputs(ws, status))

    @app.get("/r/<round_id>/<any(forms, receipts, reminders):kind>.zip")
    def zipped(round_id: str, kind: str) -> BaseResponse:
        status = round_status(ws, round_id)
        folder = ws.round_dir(status.round) / kind
        pattern = "*.eml" if kind == "reminders" else "*.xlsx"
        name = {"forms": "填报表", "receipts": "回执", "reminders": "催报邮件草稿"}[kind]
        return send_file(
            io.BytesIO(zip_folder(folder, pattern)),
            mimetype="application/zip",
            as_attachment=True,
            download_name=f"{status.round.slug}-{name}.zip",
        )

    # --- files ---

    @app.get("/files/<path:rel>")
    def download(rel: str) -> BaseResponse:
        parts = rel.replace("\\", "/").split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            abort(404)
        outbox = ws.outbox.resolve()
        path = (outbox / Path(*parts)).resolve()
        if not path.is_relative_to(outbox) or not path.is_file():
            abort(404)
        return send_file(path, as_attachment=True, download_name=path.name, max_age=0)

    # --- the register ---

    @app.get("/register")
    def register() -> str:
        reg = load_register(ws)
        years = sorted({year for t in reg.tasks for year, _ in t.targets})
        source = Path(reg.source)
        shown = source.relative_to(ws.root) if source.is_relative_to(ws.root) else source
        return render_template("register.html", register=reg, years=years, source=shown)

    @app.get("/register/<task_id>")
    def task(task_id: str) -> str:
        reg = load_register(ws)
        if reg.task(task_id) is None:
            abort(404)
        data = task_history(ws, task_id)
        return render_template("task.html", task=reg.task(task_id), history=data["tasks"][0])

    app.jinja_env.filters["q"] = lambda s: quote(str(s), safe="")
    app.jinja_env.globals["size_limit_mb"] = lambda name: size_limit_mb(name, limits)
    return app


def serve(
    config: WebConfig,
    open_browser: bool = True,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the console with waitress until Ctrl-C, then return. `on_ready` gets the
    address to open (with the access token, where there is one) once the port is bound."""
    app: dict[str, Flask] = {}

    def application(environ: Any, start_response: Any) -> Any:
        return app["console"](environ, start_response)

    # bound first, so that with --port 0 the app knows the port the system chose
    try:
        server: Any = create_server(application, host=config.host, port=config.port, threads=6)
    except OSError as exc:
        raise XlflowError(
            f"无法在 {config.host}:{config.port} 上启动（{exc.strerror or exc}）："
            "端口可能已被占用，请换一个，如 --port 8800。"
        ) from None
    bound = WebConfig(config.root, config.host, int(server.effective_port), config.token)
    app["console"] = create_app(bound)
    url = bound.url + (f"?token={quote(config.token)}" if config.token else "")
    if on_ready is not None:
        on_ready(url)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run()
    finally:
        server.close()
