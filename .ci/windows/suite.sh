#!/usr/bin/env bash
# The whole test suite on Windows CPython 3.11 in the Wine bed (.ci/windows/bed.sh), then
# the Windows bundle built there and its tests. Run by .ci/run after the Linux suite.
#
# What does not run here, and why (the only exclusions):
#   -m office    LibreOffice does not run under Wine in the bed (the Linux stage runs them)
#   -m browser   nor does Chromium
#   -m writers   nor Node.js with SheetJS and exceljs
#   -m bundle    tests/test_bundle.py needs the bundle: run below against xlflow.exe built
#                here, all but its browser round (Chromium again) and the Linux desktop entry
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bed.sh
source "$HERE/bed.sh"
cd "$REPO"

echo "== the suite on $(wpy -c 'import sys, locale; print(sys.platform, sys.version.split()[0], locale.getpreferredencoding())')"
# the CI variables that forbid skips are for the Linux stage: the programs are absent here
env -u XLFLOW_REQUIRE_OFFICE -u XLFLOW_REQUIRE_BROWSER -u XLFLOW_REQUIRE_WRITERS -u XLFLOW_REQUIRE_BUNDLE \
  wine "$WINE_PYTHON" -m pytest -p no:cacheprovider -n "${XLFLOW_WINDOWS_WORKERS:-2}" \
  -m "not office and not browser and not writers and not bundle" "$@" < /dev/null 2>&1 | cat
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || exit "$status"

echo "== xlflow.exe, built by PyInstaller on Windows CPython (packaging/build-windows.sh)"
bash "$REPO/packaging/build-windows.sh"
exe="$REPO/dist/xlflow-windows/xlflow/xlflow.exe"
# XLFLOW_REQUIRE_BUNDLE is the Linux stage's: here one bundle test skips, the double click,
# which stops the program with Ctrl-C, a console event Wine cannot deliver (its skip says so)
env -u XLFLOW_REQUIRE_BUNDLE XLFLOW_BUNDLE="$(winpath "$exe")" \
  wine "$WINE_PYTHON" -m pytest -p no:cacheprovider -p no:randomly \
  -n 0 -m bundle tests/test_bundle.py -k "not browser and not desktop_entry" < /dev/null 2>&1 | cat
exit "${PIPESTATUS[0]}"
