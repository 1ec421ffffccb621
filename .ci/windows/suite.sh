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
# Output goes through a named pipe that this script reads, not a plain `| cat`: a
# Windows process Wine never finished starting (one killed by a test as it was created)
# keeps its end of the pipe open, and `cat` would wait for it until CI's limit. Once the
# program ends, such leftovers are named and ended, which closes the pipe. (Not a file:
# Windows CPython under Wine cannot start with its output redirected to one.)
leftovers() {
  local found
  found=$(pgrep -af 'xlflow-windows-bed.*python\.exe' || true)
  if [ -n "$found" ]; then
    echo "== processes left in Wine after the run (ended now):"
    echo "$found"
  fi
  wineserver -k || true
  pkill -9 -f 'xlflow-windows-bed.*python\.exe' || true  # one Wine never finished starting
}
# run_in_wine ARGS...: the program under Wine, its output shown, its exit status returned
run_in_wine() {
  local fifo reader status=0
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  cat "$fifo" &
  reader=$!
  wine "$@" < /dev/null > "$fifo" 2>&1 || status=$?
  leftovers
  wait "$reader" || true
  rm -f "$fifo"
  return "$status"
}
status=0
# the CI variables that forbid skips are for the Linux stage: the programs are absent here
# (not the mail servers, pure Python in the bed: XLFLOW_REQUIRE_MAIL holds here too)
(
  unset XLFLOW_REQUIRE_OFFICE XLFLOW_REQUIRE_BROWSER XLFLOW_REQUIRE_WRITERS XLFLOW_REQUIRE_BUNDLE
  run_in_wine "$WINE_PYTHON" -m pytest -p no:cacheprovider -n "${XLFLOW_WINDOWS_WORKERS:-2}" \
    -m "not office and not browser and not writers and not bundle" "$@"
) || status=$?
[ "$status" -eq 0 ] || exit "$status"

echo "== xlflow.exe, built by PyInstaller on Windows CPython (packaging/build-windows.sh)"
bash "$REPO/packaging/build-windows.sh"
exe="$REPO/dist/xlflow-windows/xlflow/xlflow.exe"
# XLFLOW_REQUIRE_BUNDLE is the Linux stage's: here one bundle test skips, the double click,
# which stops the program with Ctrl-C, a console event Wine cannot deliver (its skip says so)
status=0
(
  unset XLFLOW_REQUIRE_BUNDLE
  export XLFLOW_BUNDLE
  XLFLOW_BUNDLE="$(winpath "$exe")"
  run_in_wine "$WINE_PYTHON" -m pytest -p no:cacheprovider -p no:randomly \
    -n 0 -m bundle tests/test_bundle.py -k "not browser and not desktop_entry"
) || status=$?
exit "$status"
