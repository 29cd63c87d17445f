# packages.sh - sourced by tools/quickstart.sh and tools/fuzz.sh: the
# Debian packages each needs are installed (as root, with apt-get) when
# missing.

# Each line carries the minutes and seconds since the first one, so that
# a long run (CI) shows where its time goes.
say() {
    : "${say_started:=$(date +%s)}"
    export say_started # the scripts a run starts count from its start
    say_elapsed=$(($(date +%s) - say_started))
    printf '==> [%d:%02d] %s\n' $((say_elapsed / 60)) $((say_elapsed % 60)) "$*" >&2
}

# install_packages PACKAGE...: install those not installed yet.
install_packages() {
    missing=
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    say "installing Debian packages:$missing"
    if [ "$(id -u)" -ne 0 ]; then
        echo "${0##*/}: run as root to install:$missing" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
}
