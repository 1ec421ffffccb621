"""Coverage-guided fuzzing of xlflow's hand-written parsers, with atheris (libFuzzer).

    pip install -e '.[fuzz]'
    python -m tests.fuzz.coverage biff  -max_total_time=600
    python -m tests.fuzz.coverage ods   -max_total_time=600
    python -m tests.fuzz.coverage sheet -max_total_time=600
    python -m tests.fuzz.coverage styles -max_total_time=600

Each target feeds raw bytes to one parser: `scan_biff` (the BIFF8 record stream of an
.xls), `_scan_ods` (an OpenDocument content.xml), `_read_ooxml_parts` (a worksheet and
shared strings, read by regular expressions) and `_percent_styles` (styles.xml). The
only outcomes allowed are a result, or xlflow's own `Malformed`; any other exception is
a crash that libFuzzer reports with the input that caused it. The corpus starts from
the seeds' own parts (written to a temporary folder on the first run).
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from xlflow.config.model import Limits
    from xlflow.reading import biff, ods, ooxml, workbook

from tests.fuzz.harness import SEEDS

LIMITS = Limits()


def _biff(data: bytes) -> None:
    with contextlib.suppress(workbook.Malformed):
        biff.scan_biff(data, workbook.RawWorkbook(format="xls"), LIMITS)


def _ods(data: bytes) -> None:
    try:
        ods._scan_ods(data, workbook.RawWorkbook(format="ods"), LIMITS)
    except workbook.Malformed:
        pass
    except Exception as exc:  # defusedxml refuses DTDs by raising its own types
        if type(exc).__module__.startswith("defusedxml"):
            return
        raise


def _sheet(data: bytes) -> None:
    # the first byte picks which part the rest is: a worksheet, or the shared strings
    if not data:
        return
    parts = {
        "xl/workbook.xml": b'<workbook><sheets><sheet name="S" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    if data[0] & 1:
        parts["xl/worksheets/sheet1.xml"] = data[1:]
    else:
        parts["xl/sharedStrings.xml"] = data[1:]
        parts["xl/worksheets/sheet1.xml"] = (
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'
        )
    with contextlib.suppress(workbook.Malformed):
        ooxml._read_ooxml_parts(parts, workbook.RawWorkbook(format="xlsx"), LIMITS)


def _styles(data: bytes) -> None:
    with contextlib.suppress(workbook.Malformed):
        ooxml._percent_styles(data)


TARGETS = {"biff": _biff, "ods": _ods, "sheet": _sheet, "styles": _styles}


def corpus(target: str) -> Path:
    """The seeds' own parts for this target, in a folder libFuzzer can grow."""
    import olefile

    folder = Path(tempfile.gettempdir()) / f"xlflow-atheris-{target}"
    folder.mkdir(exist_ok=True)
    if any(folder.iterdir()):
        return folder
    for path in sorted(SEEDS.iterdir()):
        data = path.read_bytes()
        if target == "biff" and path.suffix == ".xls":
            stream = olefile.OleFileIO(io.BytesIO(data)).openstream("Workbook").read()
            (folder / path.name).write_bytes(stream)
        elif path.suffix in (".ods", ".xlsx"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = zf.namelist()
                if target == "ods" and "content.xml" in names:
                    (folder / path.name).write_bytes(zf.read("content.xml"))
                elif target == "styles" and "xl/styles.xml" in names:
                    (folder / path.name).write_bytes(zf.read("xl/styles.xml"))
                elif target == "sheet" and "xl/worksheets/sheet2.xml" in names:
                    (folder / f"{path.name}-sheet").write_bytes(
                        b"\x01" + zf.read("xl/worksheets/sheet2.xml")
                    )
                    if "xl/sharedStrings.xml" in names:
                        (folder / f"{path.name}-sst").write_bytes(
                            b"\x00" + zf.read("xl/sharedStrings.xml")
                        )
    return folder


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        raise SystemExit(
            f"usage: python -m tests.fuzz.coverage {{{'|'.join(TARGETS)}}} [libFuzzer options]"
        )
    target = sys.argv[1]
    argv = [sys.argv[0], *sys.argv[2:], str(corpus(target))]
    atheris.Setup(argv, TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
