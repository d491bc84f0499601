#!/usr/bin/env bash
# benches/compare.py on CPython 3.14, with the PyPI fastiter 0.1 (the library our users come
# from, which needs 3.14 and shares our import name) measured beside our package: in the chroot
# of scripts/py314_chroot.sh, our wheel and the peers go into /opt/venv314 and fastiter 0.1.2
# (with the same numpy) into a venv of its own, /opt/venv01, which compare.py runs
# benches/fastiter01_worker.py with. Results: benches/results/py314.{md,json,png} (the 3.11
# ones, latest.*, stay as they are).
#   scripts/bench_py314.sh                  compare.py --quick (about a minute)
#   scripts/bench_py314.sh --full           compare.py's full sizes (about half an hour)
#   scripts/bench_py314.sh --only W1,W2     compare.py with these arguments instead (of --quick;
#                                           after --full: added to it)
#   (and the settings of scripts/py314_chroot.sh: another mirror, chroot or wheel)
# Needs root, like scripts/test_py314.sh; peers without 3.14 wheels are skipped, with a note.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
fi01_version=0.1.2

py314_what="the CPython 3.14 benchmarks"
# shellcheck source=scripts/py314_chroot.sh
. scripts/py314_chroot.sh
py314_setup
py314_build_wheel

echo "== our wheel and the peers in /opt/venv314"
py314_pip /opt/venv314 install -q --force-reinstall --no-deps "$py314_wheel"
# One at a time: one without a 3.14 wheel (numba, when it lags) must not keep the others out.
for peer in numpy numexpr matplotlib numba; do
    py314_pip /opt/venv314 install -q "$peer" ||
        echo "note: $peer does not install on CPython 3.14: compare.py skips it"
done

numpy_version="$(py314_chroot /opt/venv314/bin/python -c 'import numpy; print(numpy.__version__)')"
has_fi01() {
    py314_chroot /opt/venv01/bin/python -c "import importlib.metadata as m, numpy
assert m.version('fastiter') == '$fi01_version' and numpy.__version__ == '$numpy_version'" \
        2>/dev/null
}
if ! has_fi01; then
    echo "== fastiter $fi01_version (PyPI) and numpy $numpy_version in /opt/venv01"
    rm -rf "$py314_root/opt/venv01"
    py314_chroot python3.14 -m venv /opt/venv01
    py314_pip /opt/venv01 install -q "fastiter==$fi01_version" "numpy==$numpy_version"
    has_fi01
fi

args=("$@")
if [ "${1:-}" = --full ]; then
    args=("${@:2}")
elif [ ${#args[@]} = 0 ]; then
    args=(--quick)
fi
# The chroot has no git: the results say which commit they measured through compare.py's
# FASTITER_BENCH_GIT ("+dirty" when the tree has changes).
rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
git -C "$repo" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
echo "== benches/compare.py ${args[*]} on CPython 3.14, fastiter $fi01_version beside it"
py314_chroot env -C "$repo" FASTITER_BENCH_GIT="$rev" /opt/venv314/bin/python \
    benches/compare.py --no-install \
    --name py314 --fastiter01-python /opt/venv01/bin/python "${args[@]}"
