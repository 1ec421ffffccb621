"""xlflow: distribute, collect, validate and consolidate key-task progress workbooks."""

from __future__ import annotations

__version__ = "0.1.0"
