#!/usr/bin/env bash
# The Python package's tests on every CPython 3.9-3.13 this machine has (pyenv's, else python3):
# one wheel per interpreter (maturin, release), a venv each under target/venvs, then pytest.
#   PYTHONS="python3.11 /path/to/python3.12" scripts/test_python.sh   to choose interpreters
#   FASTITER_HYPOTHESIS_EXAMPLES=N                                      differential cases per test
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PYTHONS:-}" ]; then
    PYTHONS=""
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for minor in 9 10 11 12 13; do
        exe="$(ls -d "$root"/versions/3."$minor".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)"
        [ -n "$exe" ] && PYTHONS="$PYTHONS $exe"
    done
    [ -z "$PYTHONS" ] && PYTHONS="$(command -v python3)"
fi

# The kernel cache gets a fresh directory of its own: tests never read what an earlier run or
# the user left, and leave nothing in the user's cache directory.
export FASTITER_CACHE_DIR="$PWD/target/kernel-cache-pytest"
rm -rf "$FASTITER_CACHE_DIR"

venvs=target/venvs
tools="$venvs/tools"
if [ ! -x "$tools/bin/maturin" ]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q "maturin>=1.5,<2"
fi
[ -x "$tools/bin/ruff" ] || "$tools/bin/pip" install -q ruff
echo "== ruff (lint and format) on the Python code"
"$tools/bin/ruff" check py tests/python benches scripts/soak.py
"$tools/bin/ruff" format --check py tests/python benches scripts/soak.py
rm -rf target/wheels-test
echo "== building wheels for:$PYTHONS"
# shellcheck disable=SC2086
"$tools/bin/maturin" build --release --quiet -o target/wheels-test $(for p in $PYTHONS; do echo -i "$p"; done)

# The full number of generated cases on the first interpreter that is CI's (python3's version),
# fewer on the others: the differential tests are the slow part.
main_ver="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
failed=""
for py in $PYTHONS; do
    ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    env="$venvs/py$ver"
    echo "== Python $ver ($py)"
    [ -x "$env/bin/python" ] || "$py" -m venv "$env"
    tag="cp${ver/./}"
    wheel="$(ls target/wheels-test/fastiter-*-"$tag"-*.whl | head -1)"
    "$env/bin/pip" install -q --force-reinstall --no-deps "$wheel"
    "$env/bin/pip" install -q "pytest>=7" "hypothesis>=6" "numpy>=1.21" "ipython>=8"
    examples="${FASTITER_HYPOTHESIS_EXAMPLES:-}"
    if [ -z "$examples" ] && [ "$ver" != "$main_ver" ]; then examples=100; fi
    if ! (cd tests/python && FASTITER_HYPOTHESIS_EXAMPLES="${examples:-500}" ../../"$env"/bin/python -m pytest -q -p no:cacheprovider \
        --rootdir=../.. -c ../../pyproject.toml .); then
        failed="$failed $ver"
    fi
done
if [ -n "$failed" ]; then
    echo "Python tests failed on:$failed" >&2
    exit 1
fi
echo "Python tests passed on:$PYTHONS"
