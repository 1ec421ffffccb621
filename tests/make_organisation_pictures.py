"""The pictures of docs/organisation.md: each sheet a person sees of the directory,
collectives, forwarding and roll-up, printed by LibreOffice.

    python -m tests.make_organisation_pictures [OUT_DIR]

It runs the organisation round of tests/data/organisation (as tests/test_relay.py does):
the city generates, the district forwards its form to three sub-units, two answer, the
district rolls up and the city merges. Each workbook is printed to PDF by LibreOffice and
the page with the sheet wanted is kept as a PNG (default docs/organisation/).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

from .conftest import GOOD_CONTACT, complete_values, fill, run, run_json
from .office import page_text, pdf_pages, to_pdf, to_png

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "organisation"
ROUND = "2025-H1"


def _page(workbook: Path, marker: str, out: Path, name: str, work: Path) -> Path:
    """The first printed page of `workbook` whose text holds `marker`, as out/name.png."""
    pdf = to_pdf(workbook, work / "pdf" / name)
    for page in range(1, pdf_pages(pdf) + 1):
        if marker in page_text(pdf, page):
            break
    else:
        raise SystemExit(f"{workbook.name}: no printed page shows {marker!r}")
    single = work / "png" / name
    pngs = to_png(pdf, single, dpi=90)
    target = out / f"{name}.png"
    shutil.copy(pngs[page - 1], target)
    return target


def say_written(shown: list[Path]) -> None:
    """Each picture written, relative to the repository where it is inside it."""
    for path in shown:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    deadline = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    with tempfile.TemporaryDirectory(prefix="org-pictures-") as tmp:
        work = Path(tmp)
        draft = work / "draft"
        run(
            [
                "init",
                str(draft),
                "--register",
                str(DATA / "任务清单.csv"),
                "--office",
                "市政府督查室",
            ]
        )
        city = work / "city"
        run(
            [
                "init",
                str(city),
                "--register",
                str(DATA / "任务清单.csv"),
                "--office",
                "市政府督查室",
            ]
        )
        (city / "templates" / "单位名录.xlsx").unlink()
        shutil.copy(DATA / "单位名录.csv", city / "templates")
        forms = {
            f["division"]: Path(f["path"])
            for f in run_json(
                ["generate", "-w", str(city), "--round", ROUND, "--deadline", deadline]
            )["forms"]
        }
        for unit, status, percent in (
            ("市发改委", "按计划推进", 60),
            ("东湖街道", "按计划推进", 80),
            ("西山街道", "进度滞后", 40),
        ):
            form = forms[unit]
            fill(
                form,
                city / "inbox" / form.name,
                complete_values(form, status, percent),
                GOOD_CONTACT,
            )
        child = work / "district"
        sub = run_json(
            [
                "forward",
                str(forms["甲区人民政府"]),
                "--to",
                str(DATA / "甲区单位名录.csv"),
                "-w",
                str(child),
                "--deadline",
                deadline,
            ]
        )
        child_forms = {f["division"]: Path(f["path"]) for f in sub["forms"]}
        for unit, status, percent in (
            ("甲区科技局", "按计划推进", 80),
            ("甲区发改局", "进度滞后", 45),
        ):
            form = child_forms[unit]
            values = complete_values(form, status, percent)
            for row in values.values():
                row["进展情况"] = (
                    f"本期认定高新技术企业 {percent // 5} 家，兑现奖补资金 {percent * 3} 万元。"
                )
            fill(form, child / "inbox" / form.name, values, GOOD_CONTACT)
        run(["collect", "-w", str(child), "--round", ROUND])
        settings = child / "xlflow.toml"
        text = settings.read_text("utf-8").replace('contact = ""', 'contact = "郑洁"')
        settings.write_text(text.replace('phone = ""', 'phone = "0574-83000001"'), "utf-8")
        rolled = Path(run_json(["roll-up", "-w", str(child)])["path"])
        shutil.copy(rolled, city / "inbox" / rolled.name)
        run(["collect", "-w", str(city), "--round", ROUND])
        merged = Path(run_json(["merge", "-w", str(city), "--round", ROUND])["path"])
        shown = [
            _page(draft / "templates" / "单位名录.xlsx", "所属集体", out, "1-单位名录-起草", work),
            _page(forms["南岭街道"], "南岭街道", out, "2-成员的填报表", work),
            _page(merged, "集体汇总", out, "3-汇总表-集体汇总", work),
            _page(merged, "明细表", out, "4-汇总表-任务明细", work),
            _page(child / "templates" / "任务清单.xlsx", "分解到", out, "5-分发-任务清单", work),
            _page(child_forms["甲区住建局"], "甲区住建局", out, "6-分发-下级填报表", work),
            _page(rolled, "据甲区科技局", out, "7-汇总上报的表格", work),
            _page(merged, "汇总来源", out, "8-汇总表-来源", work),
        ]
    say_written(shown)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "organisation")
