"""The web console's routes: each one calls the library as the CLI does, and renders.

Security, for a local app holding an office's data (docs/web.md):
- only the bound address is accepted in `Host` (DNS rebinding);
- every POST carries the page's CSRF token, and nothing changes on GET;
- away from 127.0.0.1 every request needs the access token;
- uploads go through `xlflow.receive` (sizes, names, never over a file), downloads come
  only from outbox/.
"""

from __future__ import annotations

import secrets
import signal
import threading
import webbrowser
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Flask
from waitress import create_server

from ..errors import Busy
from ..intake.upload import MAX_FILES
from ..workspace import Workspace
from . import board, downloads, feed, mailbox, revision, rounds, tasks
from .console import EXTENSION, Console, OpenedFolder, WebConfig
from .guard import install, upload_limit
from .jobs import Jobs

PAGES = (
    rounds.pages,
    board.pages,
    downloads.pages,
    mailbox.pages,
    tasks.pages,
    revision.pages,
    feed.pages,
)


def create_app(config: WebConfig) -> Flask:
    """The console over one working folder. Open it with `serve`, or test it as a WSGI app."""
    ws = Workspace.open(config.root)
    console = Console(config, OpenedFolder(ws), Jobs(), secrets.token_urlsafe(32))
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    # each request's own limit is set as it comes (guard.upload_limit): this one is for
    # whatever is read before the guard
    app.config.update(
        MAX_CONTENT_LENGTH=upload_limit(console.limits),
        MAX_FORM_PARTS=MAX_FILES + 20,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        JSON_AS_ASCII=False,
    )
    app.extensions[EXTENSION] = console
    install(app, console)
    for pages in PAGES:
        app.register_blueprint(pages)
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
        raise Busy(
            f"无法在 {config.host}:{config.port} 上启动（{exc.strerror or exc}）："
            "端口可能已被占用，请换一个，如 --port 8800。"
        ) from None
    bound = WebConfig(config.root, config.host, int(server.effective_port), config.token)
    app["console"] = create_app(bound)
    url = bound.url + (f"?token={quote(config.token)}" if config.token else "")
    if on_ready is not None:
        on_ready(url)
    if open_browser:
        opener = threading.Timer(0.5, webbrowser.open, args=(url,))
        opener.daemon = True  # a browser command that never returns must not hold the exit
        opener.start()
    _ctrl_break_stops_too()
    try:
        server.run()
    finally:
        server.close()


def _ctrl_break_stops_too() -> None:
    """On Windows, Ctrl-Break (and what a service manager or a test sends a console of its
    own process group, which Ctrl-C cannot reach) stops the console as Ctrl-C does."""
    breaks = getattr(signal, "SIGBREAK", None)
    if breaks is not None and threading.current_thread() is threading.main_thread():
        signal.signal(breaks, signal.default_int_handler)
