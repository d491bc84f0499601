#!/usr/bin/env bash
# The Python package's tests on CPython 3.14, the version fastiter 0.1's users run, on machines
# that have no 3.14 of their own: the chroot of scripts/py314_chroot.sh (Debian's python3.14,
# made once under target/py314-root), our wheel built on the host and installed in its venv,
# where pytest runs the whole suite.
#   FASTITER_SKIP_314=1 scripts/test_py314.sh      skip (says so), e.g. without root
#   (and the settings of scripts/py314_chroot.sh: another mirror, chroot or wheel)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

if [ "${FASTITER_SKIP_314:-0}" = 1 ]; then
    echo "== CPython 3.14: skipped (FASTITER_SKIP_314=1)"
    exit 0
fi
py314_what="the CPython 3.14 tests"
# shellcheck source=scripts/py314_chroot.sh
. scripts/py314_chroot.sh
py314_setup
py314_build_wheel

py314_pip /opt/venv314 install -q --force-reinstall --no-deps "$py314_wheel"
py314_chroot env -C "$repo/tests/python" \
    FASTITER_HYPOTHESIS_EXAMPLES="${FASTITER_HYPOTHESIS_EXAMPLES:-100}" \
    /opt/venv314/bin/python -m pytest -q -p no:cacheprovider --rootdir=../.. \
    -c ../../pyproject.toml .
echo "Python tests passed on: CPython 3.14"
