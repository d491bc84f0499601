#!/usr/bin/env bash
# The Python package's tests on CPython 3.14, the version fastiter 0.1's users run, on machines
# that have no 3.14 of their own: Debian's `python3.14` (sid) in a chroot made once with
# debootstrap and kept under target/py314-root. The wheel is built on the host with its own
# Rust toolchain (maturin asks the chroot's interpreter for its configuration through a
# wrapper), then installed in a venv inside the chroot, where pytest runs the whole suite.
# Needs root (debootstrap, chroot, mount) and the Debian mirror; the repository is bind-mounted
# at the same path inside, so that paths agree on both sides.
#   FASTITER_SKIP_314=1 scripts/test_py314.sh      skip (says so), e.g. without root
#   FASTITER_DEBIAN_MIRROR=http://...               another Debian mirror
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

if [ "${FASTITER_SKIP_314:-0}" = 1 ]; then
    echo "== CPython 3.14: skipped (FASTITER_SKIP_314=1)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "error: the CPython 3.14 tests need root (debootstrap, chroot, mount);" \
        "set FASTITER_SKIP_314=1 to skip them" >&2
    exit 1
fi

mirror="${FASTITER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$repo/target/py314-root"
apt_opts=(-o Acquire::Check-Valid-Until=false -o Dpkg::Use-Pty=0 -y -qq)

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${mounted[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT
mount_once() { # mount_once TARGET ARGS...: mount unless already mounted, unmount at exit
    local target="$1"
    shift
    mkdir -p "$target"
    if ! mountpoint -q "$target"; then
        mount "$@" "$target"
        mounted+=("$target")
    fi
}

if [ ! -x "$root/opt/venv314/bin/python" ]; then
    echo "== making a Debian chroot with CPython 3.14 in $root (once)"
    command -v debootstrap >/dev/null || {
        apt-get update -qq >/dev/null
        apt-get install "${apt_opts[@]}" debootstrap >/dev/null
    }
    rm -rf "$root"
    debootstrap --variant=minbase trixie "$root" "$mirror" >/dev/null
    # trixie has no python3.14; sid does (its Release file may be past Valid-Until here).
    echo "deb $mirror sid main" >"$root/etc/apt/sources.list.d/sid.list"
    chroot "$root" apt-get "${apt_opts[@]}" update >/dev/null
    chroot "$root" apt-get "${apt_opts[@]}" install python3.14 python3.14-venv python3.14-dev \
        ca-certificates >/dev/null
    # The host's resolver and pip settings (an index or certificates it must use).
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    [ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    fi
    mount_once "$root/proc" -t proc proc
    chroot "$root" python3.14 -m venv /opt/venv314.tmp
    chroot "$root" env PIP_FIND_LINKS= /opt/venv314.tmp/bin/pip install -q \
        "pytest>=7" "hypothesis>=6" "numpy>=1.21" "ipython>=8"
    # Complete only now (a failed install is made again next time). Only `bin/python`, a
    # link, is used from here on: the scripts in bin/ name the old path.
    mv "$root/opt/venv314.tmp" "$root/opt/venv314"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

mount_once "$root/proc" -t proc proc
mount_once "$root/dev/pts" -t devpts devpts
mount_once "$root/dev/shm" -t tmpfs tmpfs
mount_once "$root/tmp" --bind /tmp
mount_once "$root$repo" --bind "$repo"

# maturin runs the interpreter to read its configuration; pyo3 reads a config file instead of
# running it (the path the interpreter reports is the chroot's).
wrap="$repo/target/py314-bin"
mkdir -p "$wrap"
cat >"$wrap/python3.14" <<EOF
#!/bin/sh
exec chroot "$root" python3.14 "\$@"
EOF
chmod +x "$wrap/python3.14"
cat >"$wrap/pyo3-config.txt" <<'EOF'
implementation=CPython
version=3.14
shared=true
abi3=false
lib_name=python3.14
pointer_width=64
build_flags=
suppress_build_script_link_lines=false
EOF

tools=target/venvs/tools
if [ ! -x "$tools/bin/maturin" ]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q "maturin>=1.5,<2"
fi
echo "== building the wheel for CPython 3.14"
rm -rf target/wheels-314
PYO3_CONFIG_FILE="$wrap/pyo3-config.txt" \
    "$tools/bin/maturin" build --release --quiet -i "$wrap/python3.14" -o target/wheels-314
wheel="$(ls "$repo"/target/wheels-314/fastiter-*-cp314-*.whl | head -1)"

echo "== Python 3.14 ($(chroot "$root" python3.14 -c 'import sys; print(sys.version.split()[0])'), in $root)"
chroot "$root" /opt/venv314/bin/python -m pip install -q --force-reinstall --no-deps "$wheel"
chroot "$root" env -C "$repo/tests/python" HOME=/root \
    FASTITER_HYPOTHESIS_EXAMPLES="${FASTITER_HYPOTHESIS_EXAMPLES:-100}" \
    /opt/venv314/bin/python -m pytest -q -p no:cacheprovider --rootdir=../.. \
    -c ../../pyproject.toml .
echo "Python tests passed on: CPython 3.14"
