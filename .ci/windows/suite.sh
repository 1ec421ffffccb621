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
# The watchdog. Wine can deadlock inside itself (twice, 2026-12-06 and -07, in a worker
# with three threads waiting on a futex of Wine's): nothing in that worker runs again, so
# pytest-timeout cannot fail the test, and the run would wait for CI's limit. Each pytest
# process names the test it is in and each test it finishes (tests/progress.py). When a
# test is running and no test has started or finished anywhere for HANG_SECONDS (the
# slowest test takes under two minutes here), Wine is stuck: the tests running are named,
# Wine is ended, and the tests that had not finished run once more in a fresh Wine. A
# second hang, or a test that failed in either run, fails the stage.
HANG_SECONDS=${XLFLOW_WINDOWS_HANG_SECONDS:-900}
# watch_for_hang FOLDER: loops until killed; if the run hangs, ends Wine and leaves
# FOLDER/hung naming the tests that were running
watch_for_hang() {
  local folder=$1 newest quiet running
  while sleep 15; do
    compgen -G "$folder/*.running" >/dev/null || continue
    newest=$(stat -c %Y "$folder"/* 2>/dev/null | sort -n | tail -1)
    quiet=$(( $(date +%s) - ${newest:-$(date +%s)} ))
    [ "$quiet" -gt "$HANG_SECONDS" ] || continue
    {
      echo
      echo "== HUNG: no test has started or finished for ${quiet} s; running were:"
      for running in "$folder"/*.running; do
        echo "   $(basename "$running" .running): $(cat "$running" 2>/dev/null)"
      done
      echo "== Wine ended"
    } | tee "$folder/hung"
    wineserver -k || true
    pkill -9 -f 'xlflow-windows-bed.*python\.exe' || true
    return
  done
}
# run_suite FOLDER [SKIP_FOLDER] ARGS...: the suite under the watchdog, its progress kept in
# FOLDER, leaving out what SKIP_FOLDER's run finished
run_suite() {
  local folder=$1 skip=$2 watcher status=0
  shift 2
  watch_for_hang "$folder" &
  watcher=$!
  (
    # the CI variables that forbid skips are for the Linux stage: the programs are absent
    # here (not the mail servers, pure Python in the bed: XLFLOW_REQUIRE_MAIL holds here too)
    unset XLFLOW_REQUIRE_OFFICE XLFLOW_REQUIRE_BROWSER XLFLOW_REQUIRE_WRITERS XLFLOW_REQUIRE_BUNDLE
    export XLFLOW_TEST_PROGRESS XLFLOW_TEST_SKIP_FINISHED
    XLFLOW_TEST_PROGRESS=$(winpath "$folder")
    XLFLOW_TEST_SKIP_FINISHED=${skip:+$(winpath "$skip")}
    run_in_wine "$WINE_PYTHON" -m pytest -p no:cacheprovider -n "${XLFLOW_WINDOWS_WORKERS:-2}" \
      -m "not office and not browser and not writers and not bundle" "$@"
  ) || status=$?
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  return "$status"
}
first=$(mktemp -d)
second=""
trap 'rm -rf "$first" ${second:+"$second"}' EXIT
status=0
run_suite "$first" "" "$@" || status=$?
if [ -e "$first/hung" ]; then
  failed=$(cat "$first"/*.finished 2>/dev/null | grep '^failed ' | cut -d' ' -f2- || true)
  passed=$(cat "$first"/*.finished 2>/dev/null | grep -vc '^failed ' || true)
  echo "== the suite once more, in a fresh Wine, without the $passed tests that passed or" \
    "skipped (a test that failed runs again, to show its failure)"
  second=$(mktemp -d)
  status=0
  run_suite "$second" "$first" "$@" || status=$?
  if [ -e "$second/hung" ]; then
    echo "== it hung again, in: $(grep '^   ' "$second/hung" | sed 's/^ *//' | paste -sd ';')"
    echo "== the Windows stage fails"
    status=1
  elif [ -n "$failed" ]; then
    echo "== the Windows stage fails: these failed before the hang, whatever they did after:"
    echo "$failed" | sed 's/^/   /'
    status=1
  fi
  echo "== the Windows suite hung, the first time in: $(grep '^   ' "$first/hung" | sed 's/^ *//' | paste -sd ';')"
fi
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
