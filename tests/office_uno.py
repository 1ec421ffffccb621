#!/usr/bin/python3
"""Drive headless LibreOffice over UNO: open workbooks, type into cells, save or print them.

Modelled on ../shared/tools/office-fill, but many documents share one LibreOffice start,
which keeps the office tests fast. Run with Debian's /usr/bin/python3 (python3-uno).

usage: office_uno.py JOBS.json
  JOBS.json: [{"in": path, "out": path.(xlsx|xls|ods|pdf), "cells": [{"sheet": name,
  "cells": {"G5": value}}], "force": false, "recalculate": false}, ...]
  values: number -> number; "=..." -> formula; other string -> text as is; null -> cleared;
  {"typed": "80%"} -> as typed in the GUI (the office locale reads numbers, % and dates).
  A locked cell on a protected sheet is refused unless "force" (the UNO API itself
  ignores protection, as a person who unprotects the sheet would).
prints one JSON line per job: {"out": path, "ok": bool, "error": text}
env: OFFICE_TIMEOUT (seconds for the whole batch, default 300), SOFFICE
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

FILTERS = {
    "xlsx": "Calc MS Excel 2007 XML",
    "xls": "MS Excel 97",
    "ods": "calc8",
    "pdf": "calc_pdf_Export",
}


def props(**kw):
    from com.sun.star.beans import PropertyValue

    out = []
    for k, v in kw.items():
        p = PropertyValue()
        p.Name, p.Value = k, v
        out.append(p)
    return tuple(out)


def start(uno, profile, deadline):
    soffice = os.environ.get("SOFFICE") or shutil.which("soffice") or "/usr/bin/soffice"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = f"socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext"
    proc = subprocess.Popen(
        [soffice, "-env:UserInstallation=" + uno.systemPathToFileUrl(os.path.join(profile, "user")),
         "--headless", "--invisible", "--nologo", "--norestore", "--nodefault", "--nolockcheck",
         "--accept=" + conn],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    while True:
        try:
            ctx = resolver.resolve("uno:" + conn)
            return proc, ctx.ServiceManager.createInstanceWithContext(
                "com.sun.star.frame.Desktop", ctx
            )
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("soffice did not start") from None
            time.sleep(0.1)


def fill(doc, blocks, force):
    sheets = doc.Sheets
    for block in blocks:
        key = block.get("sheet", 0)
        sheet = sheets.getByIndex(key) if isinstance(key, int) else sheets.getByName(key)
        for ref, val in block["cells"].items():
            cell = sheet.getCellRangeByName(ref).getCellByPosition(0, 0)
            if sheet.isProtected() and cell.CellProtection.IsLocked and not force:
                raise RuntimeError(f"{sheet.Name}!{ref} is locked on a protected sheet")
            if val is None:
                cell.clearContents(1 | 2 | 4 | 16)
            elif isinstance(val, bool):
                cell.setValue(int(val))
            elif isinstance(val, (int, float)):
                cell.setValue(val)
            elif isinstance(val, str):
                cell.setFormula(val) if val.startswith("=") else cell.setString(val)
            else:
                cell.FormulaLocal = val["typed"]


def main() -> int:
    import uno

    with open(sys.argv[1], encoding="utf-8") as fh:
        jobs = json.load(fh)
    limit = float(os.environ.get("OFFICE_TIMEOUT", "300"))
    deadline = time.monotonic() + limit
    profile = tempfile.mkdtemp(prefix="xlflow-office.")
    state = {}

    def kill():
        proc = state.get("proc")
        if proc and proc.returncode is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(limit, kill)
    timer.daemon = True
    timer.start()
    try:
        proc, desktop = start(uno, profile, deadline)
        state["proc"] = proc
        for n, job in enumerate(jobs):
            out = os.path.abspath(job["out"])
            ext = os.path.splitext(out)[1].lstrip(".").lower()
            work = os.path.join(profile, f"in{n}")
            os.mkdir(work)
            copy = shutil.copy(job["in"], work)  # LibreOffice's lock file stays in the temp dir
            tmp_out = os.path.join(profile, f"out{n}.{ext}")
            result = {"out": out, "ok": False, "error": ""}
            doc = None
            try:
                doc = desktop.loadComponentFromURL(
                    uno.systemPathToFileUrl(copy), "_blank", 0, props(Hidden=False, ReadOnly=False)
                )
                if doc is None:
                    raise RuntimeError("could not load")
                fill(doc, job.get("cells", []), job.get("force", False))
                if job.get("recalculate"):  # every formula, not only those the edits touched
                    doc.calculateAll()
                doc.storeToURL(
                    uno.systemPathToFileUrl(tmp_out), props(FilterName=FILTERS[ext], Overwrite=True)
                )
                os.makedirs(os.path.dirname(out), exist_ok=True)
                shutil.move(tmp_out, out)
                result["ok"] = True
            except Exception as exc:  # reported per job; the batch goes on
                result["error"] = f"{type(exc).__name__}: {exc}"
            finally:
                if doc is not None:
                    with contextlib.suppress(Exception):
                        doc.close(True)
            print(json.dumps(result, ensure_ascii=False), flush=True)
        with contextlib.suppress(Exception):
            desktop.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        return 0
    finally:
        timer.cancel()
        kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
