"""Collects (and the mailbox's fetches and sends) started from the browser, followed by
the progress bar."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import XlflowError
from ..wording import disk_error_text


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
    target: str = ""  # the page that shows the result; the round's board where ""

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

    def start(
        self, round_id: str, label: str, work: Callable[[Job], dict[str, Any]], target: str = ""
    ) -> Job:
        job = Job(uuid.uuid4().hex, round_id, label, target=target)
        with self._guard:
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.summary = work(job)
            except XlflowError as exc:
                job.error = str(exc)
            except OSError as exc:
                job.error = disk_error_text(exc)
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
