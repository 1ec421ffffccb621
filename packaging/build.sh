#!/usr/bin/env bash
# Build the self-contained xlflow bundle for this machine's system into dist/xlflow/
# (dist/xlflow/xlflow, or xlflow.exe on Windows) and pack it as dist/xlflow-<os>-<arch>.tar.gz
# (.zip on Windows). Needs: pip install -e '.[web,mail]' pyinstaller
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$here"
python -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$root/dist" --workpath "$root/build/pyinstaller" xlflow.spec
os="$(python -c 'import platform; print(platform.system().lower())')"
# on Linux, beside the program: the script that adds a desktop entry (a double click)
[ "$os" = "linux" ] && cp "$here/安装桌面图标.sh" "$root/dist/xlflow/"
arch="$(python -c 'import platform; print(platform.machine().lower())')"
cd "$root/dist"
if [ "$os" = "windows" ]; then
    python -c "import shutil; shutil.make_archive('xlflow-$os-$arch', 'zip', '.', 'xlflow')"
else
    tar -czf "xlflow-$os-$arch.tar.gz" xlflow
fi
du -sh xlflow "xlflow-$os-$arch".*
