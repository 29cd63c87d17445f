#!/bin/sh
# cluster-demo.sh - three brokers sharing one name space (doc/cluster.md),
# on loopback, from the build tree:
#
#   sh tools/cluster-demo.sh [--build-dir DIR]
#
# It starts a redis-server of its own (a free loopback port, no
# persistence, in a temporary directory) and three brokers, each with a
# generated config in the style of conf/mpbroker.conf and one generated
# shared link secret (mode 600). Then examples/echo_server logs in as
# "echo" on broker 1, and mpcat logs in as "visitor" on broker 3, sends
# one line to "echo" and prints what comes back: the line went from
# broker 3 to broker 1 and back over the brokers' links. Everything is
# stopped and the temporary directory removed on exit, Ctrl-C included.
#
# DEMO ONLY: the brokers let every client in without checking its secret
# (auth_allow_all). They listen on 127.0.0.1 alone.
#
# DIR is the build directory (default: _build beside tools/), where
# `make` has built the broker, the plugins, mpcat and the examples.
# $MP_REDIS_SERVER names the redis-server program (default: from PATH).
# Exit status: 0 when the echo came back, 1 when it did not or something
# failed to start, 2 on a usage error.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/_build
redis_prog=${MP_REDIS_SERVER:-redis-server}
wait_s=20       # the longest any single step may take
line="hello across brokers"

say() { printf '==> %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

usage() {
    echo "usage: sh tools/cluster-demo.sh [--build-dir DIR]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --build-dir=*) build=${1#--build-dir=}; shift ;;
    -h | --help) sed -n '2,/^set /p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) usage ;;
    esac
done
build=$(cd "$build" 2>/dev/null && pwd) || die "no build directory $build"
for f in broker/mpbroker tools/mpcat examples/echo_server \
    plugins/.libs/translator_json.so plugins/.libs/auth_allow_all.so; do
    [ -e "$build/$f" ] || die "$build/$f is missing: build first (make -C $build)"
done
command -v "$redis_prog" >/dev/null 2>&1 ||
    die "$redis_prog not found: install it (apt-get install redis-server)"

# ------------------------------------------------------------------------
# Everything started is recorded here and stopped by cleanup, on any exit.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpbroker-cluster-demo.XXXXXX")
pids=      # "name:pid" of every process still running, newest first
reaped=    # the pid of a process already waited for
started=$(date +%s)

# stop NAME PID: SIGTERM, then up to 5 s for it to go, then SIGKILL.
# Each should exit 0 on SIGTERM; one that does not spoils the demo.
stop() {
    kill -TERM "$2" 2>/dev/null || :
    i=0
    while kill -0 "$2" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$2" 2>/dev/null; then
        say "$1 (pid $2) did not stop on SIGTERM: SIGKILL"
        kill -KILL "$2" 2>/dev/null || :
    fi
    code=0
    wait "$2" 2>/dev/null || code=$?
    if [ "$code" -ne 0 ]; then
        say "$1 (pid $2) exited with status $code"
        unclean=1
    fi
}

cleanup() {
    status=$?
    trap - EXIT INT TERM
    unclean=0
    # A signal between starting a process and remembering it: $! is it.
    last=${!:-}
    case " $pids $reaped " in
    *":$last "* | *" $last "*) ;;
    *) [ -z "$last" ] || pids="started:$last $pids" ;;
    esac
    for entry in $pids; do
        stop "${entry%%:*}" "${entry##*:}"
    done
    [ "$status" -eq 0 ] && [ "$unclean" -ne 0 ] && status=1
    rm -rf "$tmp"
    say "stopped everything, removed $tmp ($(($(date +%s) - started)) s)"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

remember() { pids="$1:$2 $pids"; }

# wait_for FILE TEXT PID: until TEXT shows in FILE; fails when PID exits
# first or $wait_s seconds pass.
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        kill -0 "$3" 2>/dev/null || return 1
        i=$((i + 1))
        [ $i -gt $((wait_s * 10)) ] && return 1
        sleep 0.1
    done
}

show_log() { say "--- $1"; sed 's/^/    /' "$1" >&2; }

# ------------------------------------------------------------------------
# Redis: a random port above 20000 on loopback, another one if taken.

random_port() {
    echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
}

start_redis() {
    mkdir "$tmp/redis"
    for _ in 1 2 3 4 5 6 7 8; do
        redis_port=$(random_port)
        : >"$tmp/redis/redis.log"
        "$redis_prog" --port "$redis_port" --bind 127.0.0.1 --save "" \
            --appendonly no --dir "$tmp/redis" --logfile "$tmp/redis/redis.log" \
            --daemonize no >/dev/null 2>&1 &
        redis_pid=$!
        if wait_for "$tmp/redis/redis.log" "Ready to accept connections" $redis_pid; then
            remember redis-server $redis_pid
            say "redis-server ready on 127.0.0.1:$redis_port (pid $redis_pid, no persistence, in $tmp/redis)"
            return 0
        fi
        wait $redis_pid 2>/dev/null || :
        grep -q "already in use" "$tmp/redis/redis.log" || break
    done
    show_log "$tmp/redis/redis.log"
    die "redis-server did not start"
}

# ------------------------------------------------------------------------
# Brokers

# write_config N: broker N's config, in the style of the shipped one.
write_config() {
    dir=$tmp/broker$1
    mkdir "$dir"
    {
        echo "# Broker $1 of the cluster demo (tools/cluster-demo.sh)."
        echo "plugin_dir = \"$build/plugins/.libs\";"
        if [ "$(id -u)" -eq 0 ]; then
            echo "# The demo runs as root: no user to switch to."
            echo "allow_root = true;"
        fi
        cat <<EOF
translators = (
    { name = "json";   module = "translator_json.so"; },
    { name = "binary"; module = "translator_binary.so"; }
);

# DEMO ONLY: every client is let in, whatever its secret.
authenticators = ( { module = "auth_allow_all.so"; } );

# Port 0: the kernel picks a free port, logged as "listening on ...".
listeners = ( { address = "127.0.0.1"; port = 0; translator = "auto"; } );

duplicate_names = "reject";
log = { level = "info"; };

cluster = {
    redis = "tcp:127.0.0.1:$redis_port";
    key_prefix = "demo";
    link = {
        address = "127.0.0.1";
        port = 0;
        secret_file = "$tmp/cluster.secret";
    };
};
EOF
    } >"$dir/mpbroker.conf"
}

# start_broker N: start broker N and wait until it has joined the
# cluster; sets broker_port to its client port.
start_broker() {
    dir=$tmp/broker$1
    "$build/broker/mpbroker" -c "$dir/mpbroker.conf" 2>"$dir/mpbroker.log" &
    pid=$!
    remember "broker$1" $pid
    if ! wait_for "$dir/mpbroker.log" "cluster: registered" $pid ||
        ! wait_for "$dir/mpbroker.log" "notice: ready" $pid; then
        show_log "$dir/mpbroker.log"
        die "broker $1 did not start"
    fi
    broker_port=$(sed -n 's/.*info: listening on tcp:127\.0\.0\.1:\([0-9]*\) .*/\1/p' \
        "$dir/mpbroker.log" | head -n 1)
    link=$(sed -n 's/.*cluster link listening on //p' "$dir/mpbroker.log" | head -n 1)
    [ -n "$broker_port" ] || die "broker $1: no client port in its log"
    say "broker $1 ready: clients on 127.0.0.1:$broker_port, link on $link (pid $pid, log $dir/mpbroker.log)"
}

say "cluster demo: a redis-server and three brokers on loopback, from $build"
say "WARNING: DEMO ONLY - the brokers use auth_allow_all: every client gets in without a secret check"
start_redis

# One secret for all brokers' links, readable by its owner only.
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/cluster.secret")
say "link secret: 32 random bytes in $tmp/cluster.secret (mode 600)"

# (set -e is off inside a function called from an && list: one a line.)
write_config 1
start_broker 1
broker1_port=$broker_port
write_config 2
start_broker 2
write_config 3
start_broker 3
broker3_port=$broker_port

# ------------------------------------------------------------------------
# The echo: server on broker 1, client on broker 3.

say "echo_server logs in as \"echo\" on broker 1 (127.0.0.1:$broker1_port)"
"$build/examples/echo_server" -a "tcp:127.0.0.1:$broker1_port" -n echo \
    >"$tmp/echo_server.out" 2>&1 &
remember echo_server $!
if ! wait_for "$tmp/broker1/mpbroker.log" "client echo logged in" $!; then
    show_log "$tmp/echo_server.out"
    die "echo_server did not log in on broker 1"
fi

say "mpcat logs in as \"visitor\" on broker 3 (127.0.0.1:$broker3_port) and sends \"$line\" to echo"
echo "$line" >"$tmp/mpcat.in"
status=0
"$build/tools/mpcat" -a "tcp:127.0.0.1:$broker3_port" -n visitor -c 1 -w "$wait_s" \
    connect echo echo <"$tmp/mpcat.in" >"$tmp/mpcat.out" 2>"$tmp/mpcat.err" &
mpcat_pid=$!
remember mpcat $mpcat_pid
wait $mpcat_pid || status=$?
pids=${pids#"mpcat:$mpcat_pid "}
reaped=$mpcat_pid

say "echo_server said:"
sed 's/^/    /' "$tmp/echo_server.out" >&2
if [ "$status" -ne 0 ] || [ "$(cat "$tmp/mpcat.out")" != "$line" ]; then
    show_log "$tmp/mpcat.err"
    show_log "$tmp/broker1/mpbroker.log"
    show_log "$tmp/broker3/mpbroker.log"
    die "the echo did not come back (mpcat exit status $status, output '$(cat "$tmp/mpcat.out")')"
fi
say "mpcat on broker 3 got the echo back from broker 1:"
cat "$tmp/mpcat.out"
say "cluster demo: OK"
