"""Writes the fuzz seeds: genuine returns of every division, as a division would send them.

Run by hand (`python -m tests.fuzz.make_seeds`) when the forms change; the seeds are
committed in tests/data/fuzz/seeds/. The forms are signed with the harness's fixed test
secret, so every seed is accepted by the workspace the harness builds. The .xls and .ods
seeds are LibreOffice's own conversions of three of the returns (soffice is needed to
remake them).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import GOOD_CONTACT, complete_values, fill
from tests.fuzz.harness import SEEDS, build_workspace

STATUS = ("按计划推进", "已完成", "进度滞后")


def main() -> None:
    SEEDS.mkdir(parents=True, exist_ok=True)
    for old in SEEDS.iterdir():
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        _, forms = build_workspace(Path(tmp) / "ws")
        for n, (_, form) in enumerate(sorted(forms.items())):
            status = STATUS[n % len(STATUS)]
            values = complete_values(form, status, percent=100 if status == "已完成" else 35 + n)
            first = next(iter(values))
            values[first]["进展情况"] = (
                f"第{n}份：完成调研 {n + 3} 次\n召开推进会，形成台账；“246”集群 R&D 投入增长 25%。"
            )
            values[first]["下步打算"] = "加快项目落地，确保完成年度目标。"
            fill(form, SEEDS / f"{n:02d}.xlsx", values, {**GOOD_CONTACT, "填报日期": "2019-07-05"})
        soffice = shutil.which("soffice")
        if soffice is None:
            print("soffice not found: the .xls and .ods seeds were not remade")
            return
        conversions = (
            ("xls", "xls", "xls:MS Excel 97"),
            ("ods", "ods", "ods:calc8"),
            # saved by LibreOffice: shared strings, like returns from Excel and WPS
            ("lo.xlsx", "xlsx", "xlsx:Calc MS Excel 2007 XML"),
        )
        for n in (0, 2, 4):
            for name, ext, filt in conversions:
                outdir = Path(tmp) / name
                subprocess.run(
                    [soffice, f"-env:UserInstallation=file://{tmp}/profile", "--headless",
                     "--convert-to", filt, "--outdir", str(outdir), str(SEEDS / f"{n:02d}.xlsx")],
                    check=True, capture_output=True, timeout=120,
                )  # fmt: skip
                shutil.move(str(outdir / f"{n:02d}.{ext}"), SEEDS / f"{n:02d}.{name}")
    print(f"seeds in {SEEDS}: {len(list(SEEDS.iterdir()))} files")


if __name__ == "__main__":
    main()
