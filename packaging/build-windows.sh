#!/usr/bin/env bash
# Build xlflow.exe for Windows (x64) on Linux, and pack it as dist/xlflow-windows-amd64.zip:
# PyInstaller's Windows wheel, run by the official embeddable CPython 3.11 for Windows under
# Wine (the test bed of .ci/windows/bed.sh, which installs what it needs). On a Windows PC
# the same spec builds it directly: pip install -e .[web,mail] pyinstaller, then
# python -m PyInstaller packaging\xlflow.spec.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=../.ci/windows/bed.sh
source "$root/.ci/windows/bed.sh"
dist="$root/dist"
rm -rf "$dist/xlflow-windows" "$root/build/windows"
(cd "$here" && wpy -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$(winpath "$dist/xlflow-windows")" --workpath "$(winpath "$root/build/windows")" \
  xlflow.spec)
exe="$dist/xlflow-windows/xlflow/xlflow.exe"
[ -f "$exe" ] || { echo "xlflow.exe was not built"; exit 1; }
# the bed's stub must never ship: Windows has the real bcryptprimitives.dll
if find "$dist/xlflow-windows" -iname 'bcryptprimitives.dll' | grep -q .; then
  echo "the bundle carries the test bed's bcryptprimitives.dll"; exit 1
fi
rm -f "$dist/xlflow-windows-amd64.zip"
(cd "$dist/xlflow-windows" && python3 -c "import shutil; shutil.make_archive('../xlflow-windows-amd64', 'zip', '.', 'xlflow')")
du -sh "$dist/xlflow-windows/xlflow" "$dist/xlflow-windows-amd64.zip"
