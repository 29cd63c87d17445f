#!/bin/sh
# readme-walkthrough.sh - follow the README top to bottom in one shell, as
# a new user on a fresh Debian machine would, and fail if a command it
# shows does not work as written.
#
#   sh tests/readme-walkthrough.sh SRCDIR RESULTS_FILE
#
# Every ```sh block of SRCDIR/README.md, then of doc/mpcat.md (whose
# examples use the quick-start broker too), is run, in order, by one `sh -e`
# in a copy of SRCDIR (tracked and untracked files, as a fresh clone has
# them), with these exceptions, which stand for what a user does in a
# terminal:
# - `sh tools/quickstart.sh run` keeps the broker in the foreground: it
#   runs in the background, and the walk goes on once the broker is ready;
# - `sh tools/quickstart.sh test` is the suite that runs this script: it
#   is left out;
# - a command put in the background with `&` is waited for until the
#   broker logs its login (it is a client that stays, such as a listener).
# Blocks that cannot run here (systemctl needs systemd as PID 1) are
# written as ```console in the README.
#
# THIS CHANGES THE SYSTEM while it runs, as the README does: `make install`
# into /usr/local, /etc/mpbroker.conf and /etc/mpbroker.passwd, the user
# mpbroker. On exit it undoes it: `make uninstall`, the files in /etc that
# did not exist before, and the user when this run created it.
#
# Appends "PASS readme walkthrough" or "FAIL readme walkthrough" to
# RESULTS_FILE; exit status 1 on failure.
set -u

if [ $# -ne 2 ]; then
    echo "usage: sh tests/readme-walkthrough.sh SRCDIR RESULTS_FILE" >&2
    exit 2
fi
src=$(cd "$1" && pwd) || exit 2
case $2 in
/*) results=$2 ;;
*) results=$(pwd)/$2 ;;
esac

say() { printf '==> %s\n' "$*" >&2; }

work=$(mktemp -d /tmp/readme-walk.XXXXXX)
# As a clone others can enter (/srv, /home/USER): the quick-start broker
# runs as mpbroker and re-reads its files as that user.
chmod 755 "$work"
copy=$work/mpbroker
user_existed=
id mpbroker >/dev/null 2>&1 && user_existed=1
etc_existed=
# The directories `make install` may create: those that are new are
# removed after `make uninstall` (which leaves directories).
dirs_before=$(mktemp /tmp/readme-walk-dirs.XXXXXX)
find /usr/local -type d 2>/dev/null | sort >"$dirs_before"
for f in /etc/mpbroker.conf /etc/mpbroker.passwd; do
    [ -e "$f" ] && etc_existed="$etc_existed $f"
done

cleanup() {
    trap - EXIT INT TERM HUP
    # The walk's own clients, then the quick-start broker.
    [ -f "$work/pids" ] && for pid in $(cat "$work/pids"); do
        kill -TERM "$pid" 2>/dev/null
    done
    pkill -TERM -f "^$copy/_install/sbin/mpbroker " 2>/dev/null
    [ -f "$copy/Makefile" ] && make -C "$copy" uninstall >/dev/null 2>&1
    find /usr/local -type d 2>/dev/null | sort | comm -13 "$dirs_before" - |
        sort -r | while read -r d; do rmdir "$d" 2>/dev/null; done
    rm -f "$dirs_before"
    for f in /etc/mpbroker.conf /etc/mpbroker.passwd; do
        case " $etc_existed " in *" $f "*) ;; *) rm -f "$f" ;; esac
    done
    if [ -z "$user_existed" ] && id mpbroker >/dev/null 2>&1; then
        userdel mpbroker 2>/dev/null
        getent group mpbroker >/dev/null && groupdel mpbroker 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The copy, as deb-check.sh makes it.
mkdir "$copy"
if [ -e "$src/.git" ]; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard |
        tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$copy"
else
    cp -a "$src/." "$copy/"
fi

# The ```sh blocks, with the exceptions above, as one script. Lines ending
# in a backslash are joined first.
awk '
    /^```sh[ \t]*$/ { inblock = 1; next }
    /^```/ { inblock = 0; next }
    !inblock { next }
    { line = line $0 }
    /\\$/ { sub(/\\$/, "", line); next }
    {
        if (line ~ /^sh tools\/quickstart\.sh run[ \t]*(#.*)?$/)
            print "walk_quickstart_run"
        else if (line ~ /^sh tools\/quickstart\.sh test/)
            print ": the test suite runs this walk: not run again"
        else if (line ~ /&[ \t]*(#.*)?$/) {
            print "walk_mark"
            print line
            print "walk_wait_login $!"
        } else
            print line
        line = ""
    }' "$src/README.md" "$src/doc/mpcat.md" >"$work/blocks.sh"

cat >"$work/walk.sh" <<'EOF'
set -e
log=$PWD/_install/mpbroker.log
# walk_quickstart_run: the first quick-start command, in the background,
# until it has run its demo and says that the broker keeps running.
walk_quickstart_run() {
    sh tools/quickstart.sh run >"$WALK/quickstart.out" 2>&1 &
    echo $! >>"$WALK/pids"
    i=0
    until grep -q "mpbroker keeps running" "$WALK/quickstart.out"; do
        kill -0 $! 2>/dev/null || { cat "$WALK/quickstart.out" >&2; return 1; }
        i=$((i + 1))
        [ $i -lt 6000 ] || { cat "$WALK/quickstart.out" >&2; return 1; }
        sleep 0.1
    done
    grep -q "got 'hello from alice' back" "$WALK/quickstart.out" ||
        { cat "$WALK/quickstart.out" >&2; return 1; }
}
# walk_mark, then walk_wait_login PID: until the broker logs one more
# login than at the mark (PID's client is in), or PID exits.
walk_mark() {
    logins=$(grep -c ' logged in' "$log" || :)
}
walk_wait_login() {
    echo "$1" >>"$WALK/pids"
    want=$((logins + 1))
    i=0
    while [ "$(grep -c ' logged in' "$log")" -lt "$want" ]; do
        kill -0 "$1" 2>/dev/null || return 1
        i=$((i + 1))
        [ $i -lt 200 ] || return 1
        sleep 0.1
    done
}
set -x
EOF
cat "$work/blocks.sh" >>"$work/walk.sh"

say "README walkthrough in $copy"
start=$(date +%s)
if (cd "$copy" && WALK=$work sh -e "$work/walk.sh") >"$work/walk.out" 2>&1; then
    echo "PASS readme walkthrough" >>"$results"
    say "PASS readme walkthrough ($(($(date +%s) - start)) s)"
    status=0
else
    tail -n 60 "$work/walk.out" >&2
    echo "FAIL readme walkthrough" >>"$results"
    say "FAIL readme walkthrough: the README's commands, as run, are above"
    status=1
fi
exit $status
