# shellcheck shell=bash
# Sourced, not run: CPython 3.14 in a chroot, for the machines that have no 3.14 of their own,
# shared by scripts/test_py314.sh (the test suite) and scripts/bench_py314.sh (the benchmarks).
# Debian's `python3.14` (sid) in a chroot made once with debootstrap and kept under
# target/py314-root, with a venv at /opt/venv314 (the test dependencies and numpy); the wheel is
# built on the host with its own Rust toolchain (maturin asks the chroot's interpreter for its
# configuration through a wrapper). The repository is bind-mounted at the same path inside, so
# that paths agree on both sides; everything mounted here is unmounted when the script exits.
# Needs root (debootstrap, chroot, mount) and the Debian mirror.
#
# The sourcing script sets `py314_what` (what needs root, for the error) first. Then:
#   py314_setup        make the chroot if it is not there yet, mount, write the maturin wrapper
#   py314_build_wheel  build our wheel for 3.14 into target/wheels-314; sets `py314_wheel`
#   py314_chroot ...   run a command inside
# Settings:
#   FASTITER_DEBIAN_MIRROR=http://...    another Debian mirror
#   FASTITER_PY314_ROOT=DIR              the chroot (default target/py314-root); it is written
#                                        to (venvs, wheels installed), so not another tree's
#   FASTITER_WHEEL_314=PATH              install this wheel instead of building one (built from
#                                        the same sources, e.g. by another checkout)

py314_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py314_root="${FASTITER_PY314_ROOT:-$py314_repo/target/py314-root}"
py314_mirror="${FASTITER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
py314_apt_opts=(-o Acquire::Check-Valid-Until=false -o Dpkg::Use-Pty=0 -y -qq)

if [ "$(id -u)" != 0 ]; then
    echo "error: ${py314_what:-CPython 3.14 in a chroot} needs root (debootstrap, chroot," \
        "mount); set FASTITER_SKIP_314=1 to skip it" >&2
    exit 1
fi

py314_mounted=()
py314_cleanup() {
    local i
    for ((i = ${#py314_mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${py314_mounted[$i]}" 2>/dev/null || true
    done
}
trap py314_cleanup EXIT
py314_mount_once() { # py314_mount_once TARGET ARGS...: mount unless mounted, unmount at exit
    local target="$1"
    shift
    mkdir -p "$target"
    if ! mountpoint -q "$target"; then
        mount "$@" "$target"
        py314_mounted+=("$target")
    fi
}

py314_chroot() { # py314_chroot CMD...: run CMD in the chroot, as root, HOME=/root
    chroot "$py314_root" env HOME=/root "$@"
}

# pip inside the chroot, with the host's settings but not its local wheel directory.
py314_pip() { # py314_pip VENV ARGS...
    local venv="$1"
    shift
    py314_chroot env PIP_FIND_LINKS= "$venv/bin/python" -m pip "$@"
}

py314_make_root() {
    local root="$py314_root"
    echo "== making a Debian chroot with CPython 3.14 in $root (once)"
    command -v debootstrap >/dev/null || {
        apt-get update -qq >/dev/null
        apt-get install "${py314_apt_opts[@]}" debootstrap >/dev/null
    }
    # A mount left inside by a killed run (the repository, /tmp) would be emptied with it.
    if grep -q " $root/" /proc/mounts; then
        echo "error: something is still mounted under $root (grep '$root' /proc/mounts):" \
            "unmount it first" >&2
        exit 1
    fi
    rm -rf "$root"
    debootstrap --variant=minbase trixie "$root" "$py314_mirror" >/dev/null
    # trixie has no python3.14; sid does (its Release file may be past Valid-Until here).
    echo "deb $py314_mirror sid main" >"$root/etc/apt/sources.list.d/sid.list"
    chroot "$root" apt-get "${py314_apt_opts[@]}" update >/dev/null
    chroot "$root" apt-get "${py314_apt_opts[@]}" install python3.14 python3.14-venv \
        python3.14-dev ca-certificates >/dev/null
    # The host's resolver and pip settings (an index or certificates it must use).
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    [ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    fi
    py314_mount_once "$root/proc" -t proc proc
    chroot "$root" python3.14 -m venv /opt/venv314.tmp
    py314_pip /opt/venv314.tmp install -q "pytest>=7" "hypothesis>=6" "numpy>=1.21" "ipython>=8"
    # Complete only now (a failed install is made again next time). Only `bin/python`, a
    # link, is used from here on: the scripts in bin/ name the old path.
    mv "$root/opt/venv314.tmp" "$root/opt/venv314"
}

py314_setup() {
    local root="$py314_root" repo="$py314_repo"
    # Asked inside: on the host the venv's `python` links to a /usr/bin/python3.14 that is not
    # there, so `[ -x ]` from outside is false even for a complete chroot.
    chroot "$root" /opt/venv314/bin/python -c "" 2>/dev/null || py314_make_root
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    py314_mount_once "$root/proc" -t proc proc
    py314_mount_once "$root/dev/pts" -t devpts devpts
    py314_mount_once "$root/dev/shm" -t tmpfs tmpfs
    py314_mount_once "$root/tmp" --bind /tmp
    py314_mount_once "$root$repo" --bind "$repo"

    # maturin runs the interpreter to read its configuration; pyo3 reads a config file instead
    # of running it (the path the interpreter reports is the chroot's).
    py314_wrap="$repo/target/py314-bin"
    mkdir -p "$py314_wrap"
    cat >"$py314_wrap/python3.14" <<EOF
#!/bin/sh
exec chroot "$root" python3.14 "\$@"
EOF
    chmod +x "$py314_wrap/python3.14"
    cat >"$py314_wrap/pyo3-config.txt" <<'EOF'
implementation=CPython
version=3.14
shared=true
abi3=false
lib_name=python3.14
pointer_width=64
build_flags=
suppress_build_script_link_lines=false
EOF
    echo "== Python 3.14 ($(chroot "$root" python3.14 -c 'import sys; print(sys.version.split()[0])'), in $root)"
}

py314_build_wheel() {
    local repo="$py314_repo"
    if [ -n "${FASTITER_WHEEL_314:-}" ]; then
        echo "== the wheel for CPython 3.14: $FASTITER_WHEEL_314 (FASTITER_WHEEL_314)"
        # Inside, the host's path may not exist: copy it where both sides see it.
        rm -rf "$repo/target/wheels-314"
        mkdir -p "$repo/target/wheels-314"
        cp "$FASTITER_WHEEL_314" "$repo/target/wheels-314/"
    else
        local tools="$repo/target/venvs/tools"
        if [ ! -x "$tools/bin/maturin" ]; then
            python3 -m venv "$tools"
            "$tools/bin/pip" install -q "maturin>=1.5,<2"
        fi
        echo "== building the wheel for CPython 3.14"
        rm -rf "$repo/target/wheels-314"
        (cd "$repo" && PYO3_CONFIG_FILE="$py314_wrap/pyo3-config.txt" \
            "$tools/bin/maturin" build --release --quiet -i "$py314_wrap/python3.14" \
            -o target/wheels-314)
    fi
    py314_wheel="$(ls "$repo"/target/wheels-314/fastiter-*-cp314-*.whl | head -1)"
}
