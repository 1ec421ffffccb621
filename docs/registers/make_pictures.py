"""Pictures of the register layouts for docs/registers.md, printed by LibreOffice.

Run by hand after changing tests/data/registers/ (needs soffice, pdftoppm and Pillow:
`pip install -e '.[docs]'`). Each picture is the top of a page, trimmed to its content.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[1] / "tests" / "data" / "registers"
# file -> (page, the most of its height to keep, as a share)
PICTURES = {
    "county-minsheng.xlsx": (1, 1.0),
    "district-gzbg.xlsx": (1, 1.0),
    "monthly-extract.xlsx": (1, 1.0),
    "devzone-list.xlsx": (1, 1.0),
    "minsheng-table.docx": (1, 1.0),
    "city-fengong.docx": (1, 1.0),
    "district-fangan.docx": (1, 1.0),
    "state-council-style.docx": (1, 1.0),
    "guofa-2019-3-zongbao.docx": (2, 0.55),
}


def trimmed(png: Path, keep: float) -> Image.Image:
    image = Image.open(png).convert("RGB")
    image = image.crop((0, 0, image.width, int(image.height * keep)))
    background = Image.new("RGB", image.size, (255, 255, 255))
    box = ImageChops.difference(image, background).getbbox()
    if box is None:
        return image
    left, top, right, bottom = box
    pad = 8
    return image.crop(
        (
            max(0, left - pad),
            max(0, top - pad),
            min(image.width, right + pad),
            min(image.height, bottom + pad),
        )
    )


def main() -> int:
    soffice = shutil.which("soffice")
    if soffice is None or shutil.which("pdftoppm") is None:
        print("needs soffice and pdftoppm", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory() as tmp:
        for name, (page, keep) in PICTURES.items():
            source = CORPUS / name
            subprocess.run(
                [soffice, f"-env:UserInstallation=file://{tmp}/profile", "--headless",
                 "--convert-to", "pdf", "--outdir", tmp, str(source)],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            pdf = Path(tmp) / f"{source.stem}.pdf"
            prefix = Path(tmp) / source.stem
            subprocess.run(
                ["pdftoppm", "-r", "90", "-f", str(page), "-l", str(page), "-png", "-singlefile",
                 str(pdf), str(prefix)],
                check=True, timeout=60,
            )  # fmt: skip
            out = HERE / f"{source.stem}.png"
            trimmed(prefix.with_suffix(".png"), keep).save(out, optimize=True)
            print(out.relative_to(HERE.parents[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
