"""`xlflow serve`: the whole round in a browser, over the same library calls as the CLI.

Optional: `pip install 'xlflow[web]'` brings Flask and waitress. The pages are rendered on
the server from Jinja2 templates; the only script is htmx, vendored under static/, so
the console works with no network at all.
"""

from __future__ import annotations

from .app import create_app, serve
from .console import WebConfig

__all__ = ["WebConfig", "create_app", "serve"]
