#!/bin/sh
# deb-check.sh - the Debian packages as a new user gets them: build them
# from a copy of SRCDIR, lint them, install them, start the installed
# broker as its systemd unit would (without systemd), talk to it with the
# installed mpcat and with the examples of libmpclient-dev built with
# pkg-config, stop it, then purge the packages.
#
#   sh tests/deb-check.sh SRCDIR RESULTS_FILE
#
# Appends one line per step to RESULTS_FILE, "PASS deb STEP" or
# "FAIL deb STEP", for each STEP of: build lintian install run echo_unix
# echo_tcp dev_pkgconfig purge. A step that cannot run because an earlier
# one failed is a FAIL too. The last line on stdout is "deb: N passed,
# M failed"; the exit status is 1 when a step failed.
#
# THIS CHANGES THE SYSTEM while it runs: it installs packages (the build
# dependencies it lacks, then mpbroker's own), writes /etc/mpbroker.conf,
# creates the user mpbroker and starts a broker on 127.0.0.1:7330. On exit
# it undoes all of it: the packages it installed, build dependencies
# included, are purged (dpkg's package list is as before), and the user
# is removed when this run created it. Run it on a machine you can spare
# (tools/quickstart.sh runs it only in CI or with MP_SYSTEM_TESTS=1).
# Runs as root on Debian 12 (apt-get, dpkg, the service's user). SRCDIR itself is never written to: the
# packages are built in a copy of its files (tracked and untracked, not
# ignored ones, when it is a git checkout). Everything the script starts
# is stopped on exit, whatever failed: the broker and clients, the
# packages (purged), the broker's runtime directory and, when this run
# created it, the system user mpbroker. The broker's tcp:127.0.0.1:7330
# must be free: a port in use is reported as a failure.
# shellcheck disable=SC2015 # "A && B || { report; return 1; }" is meant
set -u

if [ $# -ne 2 ]; then
    echo "usage: sh tests/deb-check.sh SRCDIR RESULTS_FILE" >&2
    exit 2
fi
src=$(cd "$1" && pwd) || exit 2
case $2 in
/*) results=$2 ;;
*) results=$(pwd)/$2 ;;
esac
: >>"$results" || exit 2

# shellcheck source=tools/packages.sh disable=SC1091
. "$src/tools/packages.sh"

STEPS="build lintian install run echo_unix echo_tcp dev_pkgconfig purge"
PACKAGES="mpbroker libmpclient0 libmpclient-dev"
# debian/control's Build-Depends without the <!nocheck> ones, and the tools.
BUILD_PACKAGES="build-essential dpkg-dev debhelper lintian git autoconf
automake libtool pkg-config libconfig-dev libcrypt-dev libevent-dev
libssl-dev libyajl-dev libsystemd-dev"
CONF=/etc/mpbroker.conf
RUNDIR=/run/mpbroker
SOCK=$RUNDIR/mpbroker.sock
TCP=tcp:127.0.0.1:7330

work=
done_steps=
failed=0
passed=0
broker_pid=
client_pids=
we_installed=
user_existed=
made_rundir=

# result STEP PASS|FAIL [WHY]: one line in RESULTS_FILE, once per step.
result() {
    case " $done_steps " in *" $1 "*) return ;; esac
    done_steps="$done_steps $1"
    echo "$2 deb $1" >>"$results"
    if [ "$2" = PASS ]; then
        passed=$((passed + 1))
        say "PASS deb $1"
    else
        failed=$((failed + 1))
        say "FAIL deb $1${3:+: $3}"
    fi
}

# fail STEP WHY: the step failed; show the logs that tell why.
fail() {
    result "$1" FAIL "$2"
    for f in "$work"/*.log "$work"/*.out "$work"/*.err; do
        [ -s "$f" ] || continue
        echo "--- ${f##*/} (last 30 lines)" >&2
        tail -n 30 "$f" >&2
    done
}

# stop_pid PID: SIGTERM, then SIGKILL after 5 s; returns its exit status.
stop_pid() {
    kill -TERM "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1"
}

# count_in FILE TEXT: lines of FILE with TEXT.
count_in() {
    n=$(grep -c -F -e "$2" "$1" 2>/dev/null)
    echo "${n:-0}"
}

# wait_for FILE TEXT COUNT SECONDS PID: until TEXT is on COUNT lines of
# FILE; fails after SECONDS, or at once when process PID has exited.
wait_for() {
    i=0
    while [ "$(count_in "$1" "$2")" -lt "$3" ]; do
        kill -0 "$5" 2>/dev/null || return 1
        i=$((i + 1))
        [ $i -gt $(($4 * 10)) ] && return 1
        sleep 0.1
    done
}

# installed_any: one of the packages is installed, or its conffiles are.
installed_any() {
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q -v 'not-installed$' &&
            return 0
    done
    return 1
}

# purge_packages: apt-get purge those of the packages dpkg knows (apt
# refuses a name it cannot find anywhere).
purge_packages() {
    known=
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q -v 'not-installed$' &&
            known="$known $p"
    done
    [ -z "$known" ] && return 0
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $known >>"$work/purge.out" 2>&1
}

# restore_package_list: purge what this run installed (build dependencies
# and what they pulled in), so that dpkg lists what it listed before.
packages_before=
restore_package_list() {
    [ -n "$packages_before" ] || return 0
    added=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
        awk '$1 ~ /^.i/ {print $2}' | sort | comm -13 "$packages_before" -)
    if [ -n "$added" ]; then
        say "purging the packages this run installed: $(echo $added)"
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $added >/dev/null 2>&1 ||
            say "could not purge all of: $(echo $added)"
    fi
    rm -f "$packages_before"
    packages_before=
}

cleanup() {
    trap - EXIT INT TERM HUP
    for pid in $client_pids; do stop_pid "$pid" 2>/dev/null; done
    [ -n "$broker_pid" ] && stop_pid "$broker_pid" 2>/dev/null
    if [ -n "$we_installed" ] && installed_any; then
        say "purging the packages left installed"
        purge_packages
    fi
    # As systemd removes the unit's RuntimeDirectory when it stops.
    [ -n "$made_rundir" ] && rm -rf "$RUNDIR"
    if [ -n "$we_installed" ] && [ -z "$user_existed" ] && id mpbroker >/dev/null 2>&1; then
        # dpkg refuses to work with a statoverride naming a missing user.
        dpkg-statoverride --list /etc/mpbroker.passwd 2>/dev/null | grep -q '^root mpbroker ' &&
            dpkg-statoverride --remove /etc/mpbroker.passwd
        userdel mpbroker 2>/dev/null
        getent group mpbroker >/dev/null && groupdel mpbroker 2>/dev/null
    fi
    restore_package_list
    [ -n "$work" ] && rm -rf "$work"
    for s in $STEPS; do
        result "$s" FAIL "not run"
    done
    echo "deb: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

start=$(date +%s)
work=$(mktemp -d /tmp/deb-check.XXXXXX)
# The broker runs as mpbroker and checks (mpbroker -t) that it can re-read
# its files there after a reload.
chmod 755 "$work"
say "deb check: this installs and purges system packages, writes /etc/mpbroker.conf and may create the user mpbroker; all of it is undone on exit"
packages_before=$(mktemp /tmp/deb-check-packages.XXXXXX)
dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
    awk '$1 ~ /^.i/ {print $2}' | sort >"$packages_before"
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

# --- build ---------------------------------------------------------------
build() {
    # shellcheck disable=SC2086
    install_packages $BUILD_PACKAGES || return 1
    # Leftovers of an interrupted run would hide what this one installs.
    if installed_any; then
        say "purging mpbroker packages installed before this run"
        purge_packages || return 1
    fi
    mkdir "$work/src"
    if [ -e "$src/.git" ]; then
        (cd "$src" && git ls-files -z --cached --others --exclude-standard |
            tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$work/src"
    else
        cp -a "$src/." "$work/src/"
    fi || return 1
    [ -f "$work/src/debian/control" ] || { echo "no debian/control in $src" >"$work/build.log"; return 1; }
    say "dpkg-buildpackage (nocheck) in $work/src"
    (cd "$work/src" && DEB_BUILD_OPTIONS=nocheck timeout 900 \
        dpkg-buildpackage -us -uc -b -Pnocheck -J) >"$work/build.log" 2>&1 || return 1
    for p in $PACKAGES; do
        ls "$work/${p}"_*.deb >/dev/null 2>&1 || { echo "no $p package" >>"$work/build.log"; return 1; }
    done
}
if build; then result build PASS; else fail build "dpkg-buildpackage failed"; exit 1; fi
rm -f "$work/build.log"
rm -rf "$work/src"

# --- lintian -------------------------------------------------------------
# Errors and warnings fail; those debian/*.lintian-overrides justify are
# overridden.
say "lintian"
if lintian --fail-on error,warning "$work"/mpbroker_*.changes >"$work/lintian.out" 2>&1; then
    result lintian PASS
else
    fail lintian "lintian reported errors or warnings"
fi
rm -f "$work/lintian.out"

# --- install -------------------------------------------------------------
id mpbroker >/dev/null 2>&1 && user_existed=1
check_install() {
    we_installed=1
    (cd "$work" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends ./mpbroker_*.deb ./libmpclient0_*.deb \
        ./libmpclient-dev_*.deb) >"$work/install.out" 2>&1 || return 1
    exec 3>>"$work/install.out"
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" | grep -qx 'install ok installed' ||
            { echo "$p is not installed" >&3; return 1; }
    done
    # The system user and group of postinst. A user that existed before
    # (the README's useradd, the quick start) is the admin's: postinst
    # leaves it alone, and so does this check.
    pw=$(getent passwd mpbroker) || { echo "no user mpbroker" >&3; return 1; }
    if [ -z "$user_existed" ]; then
        uid=$(echo "$pw" | cut -d: -f3)
        [ "$uid" -lt 1000 ] && [ "$(echo "$pw" | cut -d: -f6)" = /nonexistent ] &&
            [ "$(id -gn mpbroker)" = mpbroker ] ||
            { echo "mpbroker is not a system user with group mpbroker: $pw" >&3; return 1; }
    fi
    # Both files in /etc are conffiles; the password file is the group's.
    conffiles=$(dpkg-query -W -f='${Conffiles}' mpbroker)
    for f in /etc/mpbroker.conf /etc/mpbroker.passwd; do
        echo "$conffiles" | grep -q "^ $f " || { echo "$f is not a conffile" >&3; return 1; }
    done
    perm=$(stat -c '%U:%G %a' /etc/mpbroker.passwd)
    [ "$perm" = "root:mpbroker 640" ] || { echo "/etc/mpbroker.passwd is $perm" >&3; return 1; }
    # Enabled for systemd (deb-systemd-helper works without a running
    # systemd; there is none to start the service here).
    [ -L /etc/systemd/system/multi-user.target.wants/mpbroker.service ] ||
        { echo "mpbroker.service is not enabled" >&3; return 1; }
    # The config's plugin_dir is where the plugins are, and what
    # mpbroker-plugin.pc says.
    dir=$(sed -n 's/^plugin_dir = "\(.*\)";.*/\1/p' "$CONF")
    [ "$dir" = "/usr/lib/$triplet/mpbroker" ] && [ -f "$dir/auth_passwd.so" ] &&
        [ "$(pkg-config --variable=plugindir mpbroker-plugin)" = "$dir" ] ||
        { echo "plugin_dir \"$dir\" is not the plugins' directory" >&3; return 1; }
    grep -q "unix = \"$SOCK\"" "$CONF" ||
        { echo "$CONF has no listener on $SOCK" >&3; return 1; }
    exec 3>&-
}
say "apt-get install the packages"
if check_install; then result install PASS; else fail install "see install.out"; exit 1; fi

# --- run -----------------------------------------------------------------
# As mpbroker.service: ExecStartPre, then ExecStart, root at first, in its
# RuntimeDirectory; the step passes once SIGTERM has stopped it with exit
# status 0, after the steps that talk to it.
log=$work/broker.log
check_run() {
    /usr/sbin/mpbroker -t -c "$CONF" >"$work/check.out" 2>&1 &&
        grep -q "configuration OK" "$work/check.out" || return 1
    if [ ! -d "$RUNDIR" ]; then
        mkdir -m 0755 "$RUNDIR" && made_rundir=1
    fi
    /usr/sbin/mpbroker -c "$CONF" 2>"$log" &
    broker_pid=$!
    if ! wait_for "$log" "notice: ready" 1 20 "$broker_pid"; then
        grep -q "in use" "$log" && ss -ltnp 'sport = :7330' >>"$log" 2>&1
        return 1
    fi
    grep -q "running as user mpbroker" "$log" || return 1
    uid=$(id -u mpbroker)
    gid=$(id -g mpbroker)
    awk -v u="$uid" -v g="$gid" '
        $1 == "Uid:" { uok = ($2 == u && $3 == u && $4 == u && $5 == u) }
        $1 == "Gid:" { gok = ($2 == g && $3 == g && $4 == g && $5 == g) }
        END { exit !(uok && gok) }' "/proc/$broker_pid/status" ||
        { grep -E '^(Uid|Gid):' "/proc/$broker_pid/status" >>"$log"; return 1; }
    [ -S "$SOCK" ] || { echo "no socket $SOCK" >>"$log"; return 1; }
}
say "starting the installed broker on $CONF"
check_run || { fail run "the broker did not start as user mpbroker"; exit 1; }

# --- echo over the Unix socket and over TCP, with the installed mpcat ----
# echo_round STEP ADDRESS FORMAT: mpcat listens as echo and sends back
# what it gets; alice sends "hello" through it and must read it back.
echo_round() {
    n=$(($(count_in "$log" "client echo logged in") + 1))
    MPCAT_SECRET=demo mpcat -a "$2" -n echo -e listen echo \
        >"$work/listen-$1.out" 2>&1 &
    listener=$!
    client_pids="$client_pids $listener"
    wait_for "$log" "client echo logged in" "$n" 10 "$listener" || return 1
    out=$(echo hello | MPCAT_SECRET=demo timeout 20 mpcat -a "$2" -f "$3" -n alice \
        -w 1 connect echo echo 2>"$work/connect-$1.err") || return 1
    [ "$out" = hello ] || { echo "alice read \"$out\"" >>"$work/connect-$1.err"; return 1; }
    grep -qx hello "$work/listen-$1.out" || return 1
    stop_pid "$listener" || return 1
    client_pids=
    rm -f "$work/listen-$1.out" "$work/connect-$1.err"
}
if echo_round echo_unix "unix:$SOCK" binary; then result echo_unix PASS
else fail echo_unix "no echo over $SOCK"; fi
if echo_round echo_tcp "$TCP" json; then result echo_tcp PASS
else fail echo_tcp "no echo over $TCP"; fi

# --- libmpclient-dev: its examples built with pkg-config -----------------
# Makefile.example builds the five programs against libmpclient and the
# plugin against mpbroker-plugin; the echo pair talks through the broker,
# and the installed broker loads the plugin.
check_dev() {
    cp -r /usr/share/doc/libmpclient-dev/examples "$work/examples" || return 1
    (cd "$work/examples" && timeout 120 make -f Makefile.example) >"$work/make.out" 2>&1 ||
        return 1
    ldd "$work/examples/echo_client" >>"$work/make.out"
    grep -E -q "libmpclient\.so\.0 => (/usr)?/lib/$triplet/libmpclient\.so\.0 " "$work/make.out" ||
        return 1
    n=$(($(count_in "$log" "client echo logged in") + 1))
    "$work/examples/echo_server" >"$work/echo_server.out" 2>&1 &
    server=$!
    client_pids=$server
    wait_for "$log" "client echo logged in" "$n" 10 "$server" || return 1
    timeout 20 "$work/examples/echo_client" installed >"$work/echo_client.out" 2>&1 &&
        grep -q "got 'installed' back from echo" "$work/echo_client.out" || return 1
    stop_pid "$server" || return 1
    client_pids=
    printf '%s\n' "user = \"mpbroker\";" \
        "translators = ( { name = \"binary\"; module = \"translator_binary.so\"; } );" \
        "authenticators = ( { module = \"$work/examples/auth_prefix.so\";" \
        "    options = { prefix = \"guest-\"; secret = \"x\"; }; } );" \
        "listeners = ( { unix = \"$work/plugin.sock\"; translator = \"binary\"; } );" \
        >"$work/plugin.conf"
    /usr/sbin/mpbroker -t -c "$work/plugin.conf" >"$work/plugin-check.out" 2>&1 &&
        grep -q "configuration OK" "$work/plugin-check.out"
}
say "building the examples of libmpclient-dev with pkg-config"
if check_dev; then result dev_pkgconfig PASS
else fail dev_pkgconfig "the examples did not build or run against libmpclient-dev"; fi

# --- stop ----------------------------------------------------------------
# SIGTERM: a clean stop, exit status 0.
stop_pid "$broker_pid"
status=$?
broker_pid=
if [ $status -eq 0 ]; then
    result run PASS
else
    echo "the broker exited with status $status on SIGTERM" >>"$log"
    fail run "the broker did not stop cleanly"
fi
[ -n "$made_rundir" ] && rm -rf "$RUNDIR" && made_rundir=

# --- purge ---------------------------------------------------------------
check_purge() {
    purge_packages || return 1
    exec 3>>"$work/purge.out"
    for p in $PACKAGES; do
        if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv 'not-installed$'; then
            echo "$p is still known to dpkg: $(dpkg-query -W -f='${Status}' "$p")" >&3
            return 1
        fi
    done
    left=
    for f in /etc/mpbroker.conf /etc/mpbroker.passwd /usr/sbin/mpbroker \
        /usr/bin/mpcat /usr/bin/mpbroker-passwd "/usr/lib/$triplet/mpbroker" \
        "/usr/lib/$triplet/libmpclient.so" "/usr/lib/$triplet/libmpclient.so.0" \
        "/usr/lib/$triplet/pkgconfig/libmpclient.pc" \
        "/usr/lib/$triplet/pkgconfig/mpbroker-plugin.pc" /usr/include/mp \
        /lib/systemd/system/mpbroker.service \
        /etc/systemd/system/multi-user.target.wants/mpbroker.service \
        /var/lib/systemd/deb-systemd-helper-enabled/mpbroker.service.dsh-also \
        /usr/share/doc/mpbroker /usr/share/doc/libmpclient0 \
        /usr/share/doc/libmpclient-dev /usr/share/man/man8/mpbroker.8.gz; do
        { [ -e "$f" ] || [ -L "$f" ]; } && left="$left $f"
    done
    [ -z "$left" ] || { echo "left after purge:$left" >&3; return 1; }
    if dpkg-statoverride --list /etc/mpbroker.passwd >/dev/null 2>&1; then
        echo "the statoverride of /etc/mpbroker.passwd is left" >&3
        return 1
    fi
    # The system user stays, as Debian keeps system users (cleanup
    # removes it when this run created it).
    exec 3>&-
}
say "apt-get purge"
if check_purge; then result purge PASS; else fail purge "see purge.out"; fi

say "deb check took $(($(date +%s) - start)) s"
