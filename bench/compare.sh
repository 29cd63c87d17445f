#!/bin/sh
# compare.sh - mpbroker side by side with nats-server, mosquitto,
# redis-server and a plain relay, in one run on this machine.
#
#   sh bench/compare.sh [--build-dir DIR] [--results FILE] [--smoke]
#                       [--targets "mp-binary mp-json nats mqtt redis relay"]
#                       [--baseline-dir DIR]
#   sh bench/compare.sh --list-targets      (prints the default targets)
#
# Installs the three servers from Debian when they are missing (keeping
# their system services from starting), builds mpbroker in _build-bench
# unless --build-dir names a built tree, then, for each target in turn,
# starts a fresh server on a free loopback port with persistence and
# logging off, runs the same mpbench matrix against it and stops it:
#
#   throughput  64 B and 4 KiB, 1 and 8 pairs, window 500
#   latency     64 B ping-pong
#   connect     16 connectors, connect -> ready -> close
#   memory      RSS per idle ready client, 10 000 clients (first, on the
#               fresh server, so that no freed memory is reused)
#
# Each figure is the median of 3 repetitions after a warm-up (latency
# merges the 3 histograms). With two or more cores the server runs on
# CPU 0 and mpbench on CPU 1, so every server gets one core and the same
# generator. RESULTS.md gets the tables, each figure's ratio to mpbroker,
# the goals, the machine, the versions and this command. Everything it
# starts, it stops. --smoke runs every target for a fraction of a second
# and prints "PASS bench TARGET" / "FAIL bench TARGET" lines instead (CI).
# --baseline-dir DIR (a built tree of another mpbroker version, e.g. a
# worktree of the last release) adds the targets mp-binary-base and
# mp-json-base: the same matrix against DIR's broker, driven by the same
# mpbench, so that a change is compared with what it changes in one run.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/packages.sh"

build=
results="$top/bench/RESULTS.md"
smoke=false
targets="mp-binary mp-json nats mqtt redis relay"
command_line="sh bench/compare.sh $*"
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --results) results=$2; shift 2 ;;
    --smoke) smoke=true; shift ;;
    --targets) targets=$2; shift 2 ;;
    --baseline-dir) baseline=$(cd "$2" && pwd); shift 2 ;;
    --list-targets) echo "$targets"; exit 0 ;;
    *) echo "usage: sh bench/compare.sh [--build-dir DIR] [--results FILE] [--smoke] [--targets LIST] [--baseline-dir DIR] [--list-targets]" >&2; exit 2 ;;
    esac
done
if [ -n "${baseline:-}" ]; then
    with_base=
    for t in $targets; do
        case $t in mp-binary | mp-json) with_base="$with_base $t-base" ;; esac
        with_base="$with_base $t"
    done
    targets=$with_base
fi

if $smoke; then
    duration=0.2 warmup=0.1 reps=1 idle_clients=200 sizes=64 pair_counts=1
else
    duration=2 warmup=0.5 reps=3 idle_clients=10000 sizes="64 4096" pair_counts="1 8"
fi

# --- what is needed ---------------------------------------------------------

# Installing a server package must not start its system service: that
# would run beside the benchmark and outlive it.
install_servers() {
    guard=
    if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        guard=/usr/sbin/policy-rc.d
    fi
    install_packages nats-server mosquitto redis-server util-linux
    [ -n "$guard" ] && rm -f "$guard"
    return 0
}

build_broker() {
    if [ -n "$build" ]; then
        return
    fi
    install_packages autoconf automake libtool pkg-config make gcc libevent-dev \
        libyajl-dev libconfig-dev libcrypt-dev libssl-dev
    build="$top/_build-bench"
    [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null)
    mkdir -p "$build"
    [ -f "$build/Makefile" ] || (cd "$build" && "$top/configure" -q --disable-tests)
    say "building mpbroker and mpbench in $build"
    make -C "$build" -j"$(nproc)" >/dev/null
}

install_servers
build_broker
mpbench="$build/bench/mpbench"
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10 000 idle clients need as many descriptors, on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [ "$(nproc)" -ge 2 ]; then
    server_cpu="taskset -c 0" bench_cpu="taskset -c 1"
else
    server_cpu= bench_cpu=
fi

# --- servers ----------------------------------------------------------------

# start_server TARGET PORT: start a fresh server for TARGET; sets server_pid.
start_server() {
    log="$work/$1.log"
    case $1 in
    mp-binary | mp-json | mp-binary-base | mp-json-base)
        translator=${1#mp-}
        translator=${translator%-base}
        tree=$build
        case $1 in *-base) tree=$baseline ;; esac
        cat >"$work/mpbroker.conf" <<EOF
plugin_dir = "$tree/plugins/.libs";
allow_root = true;
translators = ( { name = "json"; module = "translator_json.so"; },
                { name = "binary"; module = "translator_binary.so"; } );
authenticators = ( { module = "auth_allow_all.so"; } );
listeners = ( { address = "127.0.0.1"; port = $2; translator = "$translator"; } );
# All load comes from 127.0.0.1: the per-address limits must not count.
limits = { max_clients = 30000; max_clients_per_address = 0;
           max_unauthenticated = 30000; max_unauthenticated_per_address = 0; };
log = { level = "error"; };
EOF
        $server_cpu "$tree/broker/mpbroker" -c "$work/mpbroker.conf" 2>"$log" &
        ;;
    nats)
        $server_cpu nats-server -a 127.0.0.1 -p "$2" -m 0 >"$log" 2>&1 &
        ;;
    mqtt)
        printf '%s\n' "listener $2 127.0.0.1" "allow_anonymous true" \
            "persistence false" "log_dest none" "set_tcp_nodelay true" \
            "max_connections -1" >"$work/mosquitto.conf"
        $server_cpu mosquitto -c "$work/mosquitto.conf" >"$log" 2>&1 &
        ;;
    redis)
        $server_cpu redis-server --port "$2" --bind 127.0.0.1 --save '' \
            --appendonly no --maxclients 30000 --loglevel warning \
            --dir "$work" >"$log" 2>&1 &
        ;;
    relay)
        $server_cpu "$build/bench/relay" "$2" >"$log" 2>&1 &
        ;;
    esac
    server_pid=$!
    if ! "$mpbench" --wait-port "127.0.0.1:$2"; then
        cat "$log" >&2
        return 1
    fi
}

stop_server() {
    kill "$server_pid" 2>/dev/null || :
    wait "$server_pid" 2>/dev/null || :
    server_pid=
}

# --- the matrix ---------------------------------------------------------------

raw="$work/results.txt"
: >"$raw"
failed=0

# bench TARGET PORT ARGS...: one mpbench run, its result lines kept.
bench() {
    target=$1 port=$2
    shift 2
    # A baseline target is driven as its own kind, its lines relabelled.
    if ! $bench_cpu "$mpbench" -t "${target%-base}" -a "127.0.0.1:$port" -d "$duration" \
        --warmup "$warmup" -r "$reps" --server-pid "$server_pid" "$@" \
        >"$work/out" 2>"$work/err"; then
        say "mpbench -t $target $* failed: $(cat "$work/err")"
        failed=$((failed + 1))
        return 0
    fi
    grep '^result ' "$work/out" |
        sed "s/ target=${target%-base} / target=$target /" >>"$raw"
    grep -v '^result ' "$work/out" >&2
}

run_target() {
    target=$1
    port=$("$mpbench" --free-ports 1)
    say "$target on 127.0.0.1:$port"
    start_server "$target" "$port" || { failed=$((failed + 1)); return 0; }
    if [ "$target" != relay ]; then
        bench "$target" "$port" -w memory -r 1 -k "$idle_clients" -c 200
        bench "$target" "$port" -w connect -c 16
    fi
    bench "$target" "$port" -w latency -s 64
    for size in $sizes; do
        for pairs in $pair_counts; do
            bench "$target" "$port" -s "$size" -p "$pairs" -W 500
        done
    done
    stop_server
}

started=$(date +%s)
for target in $targets; do
    run_target "$target"
done
elapsed=$(($(date +%s) - started))

if $smoke; then
    for target in $targets; do
        want=4 # memory, connect, latency, throughput
        [ "$target" = relay ] && want=2
        if [ "$(grep -c "target=$target " "$raw")" -ge "$want" ]; then
            echo "PASS bench $target"
        else
            echo "FAIL bench $target"
        fi
    done
    exit 0
fi

# --- RESULTS.md ---------------------------------------------------------------

versions() {
    echo "- $("$build/broker/mpbroker" -v 2>&1 | head -n 1), libevent $(pkg-config --modversion libevent 2>/dev/null || echo '?')"
    echo "- $(nats-server --version 2>&1 | head -n 1)"
    echo "- $(mosquitto -h 2>&1 | head -n 1)"
    echo "- $(redis-server --version 2>&1 | head -n 1)"
    echo "- $(uname -sr), $(nproc) cores: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
}

{
    awk -f "$top/bench/results.awk" "$raw"
    echo
    echo "## How this was measured"
    echo
    echo "Command: \`$command_line\` ($elapsed s, $(date -u +%Y-%m-%d))."
    echo
    versions
    echo
    if [ -n "$server_cpu" ]; then
        echo "Each server ran alone, pinned to CPU 0; mpbench ran pinned to CPU 1."
    else
        echo "One core: servers and mpbench shared it."
    fi
    echo "Throughput: window 500 messages in flight per pair, $duration s measured"
    echo "after $warmup s of warm-up, median of $reps runs (min-max in brackets)."
    echo "Latency: one pair, ping-pong, 64 B, the round trips of $reps runs of"
    echo "$duration s merged into one histogram. Connect: 16 connectors, each"
    echo "connects, logs in (and subscribes, where a name is a subscription),"
    echo "waits for the answer, closes. Memory: the server's VmRSS before and"
    echo "after $idle_clients idle ready clients, on a fresh server."
    [ "$failed" -gt 0 ] && echo && echo "**$failed mpbench runs failed; their figures are missing.**"
    echo
    # What the profiles showed, and what bounds the goals not met: written
    # by hand from perf and massif runs (the commands are in it).
    cat "$top/bench/profiles.md"
} >"$work/RESULTS.md"
cp "$work/RESULTS.md" "$results"
say "wrote $results in $elapsed s"
cat "$results"
