#!/bin/sh
# compare.sh - mpbroker side by side with nats-server, mosquitto,
# redis-server, a plain relay and socat, and a cluster of mpbrokers with
# a cluster of nats-servers, in one run on this machine.
#
#   sh bench/compare.sh [--build-dir DIR] [--results FILE] [--smoke]
#                       [--targets "mp-binary mp-json mp-protobuf nats mqtt redis relay socat
#                                   mp-cluster-binary mp-cluster-json
#                                   mp-cluster-local nats-cluster"]
#                       [--baseline-dir DIR] [--duration SECONDS] [--reps N]
#                       [--no-charts] [--plan]
#   sh bench/compare.sh --list-targets      (prints the default targets)
#
# --plan prints the runs the other options make, with the seconds each
# is expected to take, and runs none.
#
# Installs the servers from Debian when they are missing (keeping their
# system services from starting), builds mpbroker in _build-bench unless
# --build-dir names a built tree, then, for each target in turn, starts a
# fresh server on a free loopback port with persistence and logging off,
# runs the same mpbench matrix against it and stops it:
#
#   throughput  64 B and 4 KiB, 1 and 8 pairs, window 500, the batch
#               sender (many messages per write)
#   one per write  64 B and 4 KiB, 1 pair, the single sender (one
#               message per system call): mp-*, nats, redis, relay
#   latency     64 B ping-pong
#   connect     16 connectors shared by 2 mpbench processes (--procs),
#               each connect -> ready -> close
#   memory      RSS per idle ready client, 10 000 clients (first, on the
#               fresh server, so that no freed memory is reused)
#   syscalls    mp-* only, when perf can read the syscall tracepoints:
#               the broker's system calls per message during a 64 B and
#               a 4 KiB 1-pair throughput run (perf stat -p)
#
# socat (one hop between two listening sockets, no parsing) takes only
# the 1-pair batch throughput runs: it relays one connection to one.
#
# The cluster targets (issue 17), each with its own fresh processes:
#   mp-cluster-binary, mp-cluster-json  a redis-server and two brokers in
#               one cluster; the sender logs in on the first, the
#               receiver on the second (mpbench --receiver-address), so
#               every message crosses the brokers' link: latency, and
#               1-pair batch throughput at 64 B and 4 KiB (binary: the
#               system calls of both brokers too)
#   nats-cluster  three nats-servers routed on loopback (measured once
#               every node has its two routes), the publisher on node 1,
#               the subscriber on node 2: the same runs
#   mp-cluster-local  a redis-server and one broker with a cluster group,
#               every client on it: connect, the time of one login (one
#               connector; mp-binary has the same run), and 1-pair batch
#               throughput, to compare with mp-binary
# Every process of a cluster, Redis included, runs on the server's core
# (CPU 0), as a single server does: with two cores, giving the brokers
# one each would leave the generator none of its own, and the figures
# would no longer compare what each system does with one core. Its CPU
# figure is the sum over its processes.
#
# Each figure is the median of --reps (3) repetitions of --duration (2 s)
# after a warm-up (latency merges the histograms). With two or more cores
# the server runs on CPU 0 and mpbench on CPU 1, so every server gets one
# core and the same generator. RESULTS.md gets the tables (figures where
# mpbench was at >= 90 % of its core marked generator-bound), each
# figure's ratio to mpbroker, the goals, the machine, the versions and
# this command; gnuplot draws throughput.svg and latency.svg next to it
# (not with --no-charts). Everything it starts, it stops. While it runs
# it says on stderr which run of how many it is and the time left.
# --smoke runs every target for a fraction of a second and prints
# "PASS bench TARGET" / "FAIL bench TARGET" lines instead (CI).
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
plan_only=false
charts=true
targets="mp-binary mp-json mp-protobuf nats mqtt redis relay socat mp-cluster-binary mp-cluster-json mp-cluster-local nats-cluster"
duration=2
reps=3
command_line="sh bench/compare.sh $*"
usage="usage: sh bench/compare.sh [--build-dir DIR] [--results FILE] [--smoke] [--targets LIST] [--baseline-dir DIR] [--duration SECONDS] [--reps N] [--no-charts] [--plan] [--list-targets]"
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --results) results=$2; shift 2 ;;
    --smoke) smoke=true; shift ;;
    --targets) targets=$2; shift 2 ;;
    --baseline-dir) baseline=$(cd "$2" && pwd); shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --no-charts) charts=false; shift ;;
    --plan) plan_only=true; shift ;;
    --list-targets) echo "$targets"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
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

warmup=0.5 idle_clients=10000 sizes="64 4096" pair_counts="1 8"
# The connect workload's generator processes: the client half of a TCP
# handshake costs about what the server's does, so one process is the
# limit (it was at 93-99 % of its core). Two processes share the
# generator's core (CPU 1: the server keeps CPU 0 to itself, or the
# comparison would not be fair) and keep it busy while the other waits
# for answers; more processes on one core add no capacity.
connect_procs=2
syscall_seconds=2
if $smoke; then
    duration=0.2 warmup=0.1 reps=1 idle_clients=200 sizes=64 pair_counts=1 charts=false
fi
# The same directory as RESULTS.md: the charts are linked by their names.
chart_dir=$(dirname "$results")

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
    install_packages nats-server mosquitto redis-server socat util-linux procps curl
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
$charts && install_packages gnuplot-nox
build_broker
mpbench="$build/bench/mpbench"
work=$(mktemp -d)
# The server, and a cluster's other processes (start_server).
server_pid= extra_pids= server_pids= syscall_pids= logs= died=
cleanup() {
    [ -n "$server_pid$extra_pids" ] && stop_server
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10 000 idle clients need as many descriptors, on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [ "$(nproc)" -ge 2 ]; then
    server_cpu="taskset -c 0" bench_cpu="taskset -c 1" bench_cores=1
else
    server_cpu= bench_cpu= bench_cores=1
fi

# An mpbench older than the batch/single senders and --procs still runs
# the rest of the matrix (its one sender is reported as batch).
if "$mpbench" --help 2>&1 | grep -q -- --send-mode; then
    send_modes="batch single" batch_flag="--send-mode batch"
else
    send_modes=batch batch_flag=
    say "this mpbench has no --send-mode: no one-message-per-write runs"
fi
procs_flag=
if "$mpbench" --help 2>&1 | grep -q -- --procs; then
    procs_flag="--procs $connect_procs"
fi

# The syscall tracepoints need root (or perf_event_paranoid -1) and
# tracefs; without them the system call table says why it is missing.
syscall_note=
if $smoke; then
    syscall_note="smoke run"
elif ! command -v perf >/dev/null 2>&1; then
    syscall_note="perf is not installed"
elif ! perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
    syscall_note="perf cannot read the syscall tracepoints here (root and tracefs are needed)"
fi

# --- servers ----------------------------------------------------------------

# mp_conf FILE TREE TRANSLATOR PORT [REDIS_PORT]: a broker's config, in
# a cluster when REDIS_PORT is given. Its log level is notice there, so
# that registering with Redis is seen (logins are logged at info only).
# The protobuf translator where TREE has one (a --baseline-dir tree may
# predate it).
mp_conf() {
    level=error
    [ -n "${5:-}" ] && level=notice
    protobuf=
    [ -e "$2/plugins/.libs/translator_protobuf.so" ] &&
        protobuf=',
                { name = "protobuf"; module = "translator_protobuf.so"; }'
    cat >"$1" <<EOF
plugin_dir = "$2/plugins/.libs";
allow_root = true;
translators = ( { name = "json"; module = "translator_json.so"; },
                { name = "binary"; module = "translator_binary.so"; }$protobuf );
authenticators = ( { module = "auth_allow_all.so"; } );
listeners = ( { address = "127.0.0.1"; port = $4; translator = "$3"; } );
# All load comes from 127.0.0.1: the per-address limits must not count.
limits = { max_clients = 30000; max_clients_per_address = 0;
           max_unauthenticated = 30000; max_unauthenticated_per_address = 0; };
log = { level = "$level"; };
EOF
    [ -z "${5:-}" ] && return 0
    cat >>"$1" <<EOF
cluster = { redis = "tcp:127.0.0.1:$5"; key_prefix = "bench";
            link = { address = "127.0.0.1"; port = 0;
                     secret_file = "$work/cluster.secret"; }; };
EOF
}

# start_mp_cluster TARGET PORT PORT2: a redis-server (no persistence,
# on the first of spare_ports) and the cluster's brokers: two for the
# cross-broker targets (the first listens on PORT, the second on PORT2),
# one for mp-cluster-local. Every process of it on the server's core:
# the server side keeps one core, whatever it is made of, as a single
# broker does.
start_mp_cluster() {
    translator=binary brokers=2
    case $1 in
    mp-cluster-json) translator=json ;;
    mp-cluster-local) brokers=1 ;;
    esac
    redis_port=$(echo "$spare_ports" | sed -n 1p)
    $server_cpu redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
        --appendonly no --loglevel warning --dir "$work" >"$work/$target-redis.log" 2>&1 &
    redis_pid=$!
    logs="$logs $redis_pid:$work/$target-redis.log"
    extra_pids=$redis_pid
    "$mpbench" --wait-port "127.0.0.1:$redis_port" || return 1
    (umask 077 && printf '%s\n' "mpbroker-bench-cluster-secret-$$" >"$work/cluster.secret")
    pids= listen=$2
    for b in $(seq "$brokers"); do
        mp_conf "$work/mpbroker-$b.conf" "$build" "$translator" "$listen" "$redis_port"
        $server_cpu "$build/broker/mpbroker" -c "$work/mpbroker-$b.conf" \
            2>"$work/$target-$b.log" &
        pids="$pids $!" logs="$logs $!:$work/$target-$b.log"
        listen=$3
    done
    # shellcheck disable=SC2086
    set -- $pids
    server_pid=$1
    shift
    extra_pids="$* $redis_pid"
    server_pids=$(echo "$server_pid $* $redis_pid" | tr -s ' ' ,)
    syscall_pids=$(echo "$pids" | sed 's/^ //' | tr ' ' ,)
    # A broker takes logins once it is registered: wait for each to say so.
    for b in $(seq "$brokers"); do
        for _ in $(seq 100); do
            grep -q 'cluster: registered' "$work/$target-$b.log" && continue 2
            sleep 0.1
        done
        echo "broker $b of $target did not register with Redis in 10 s" >&2
        return 1
    done
}

# start_nats_cluster PORT PORT2: three nats-servers routed on loopback
# (a full mesh: each solicits a route to those started before it, so
# that none waits for a retry), clients of node 1 on PORT, of node 2 on
# PORT2, their other ports from spare_ports; until every node has its
# two routes (its monitoring port's /routez). All on the server's core,
# as start_mp_cluster does.
# shellcheck disable=SC2086
start_nats_cluster() {
    set -- "$1" "$2" $spare_ports
    client_ports="$1 $2 $3" route_ports="$4 $5 $6" monitor_ports="$7 $8 $9"
    pids= routes=
    for n in 1 2 3; do
        client=$(echo "$client_ports" | cut -d' ' -f"$n")
        route=$(echo "$route_ports" | cut -d' ' -f"$n")
        monitor=$(echo "$monitor_ports" | cut -d' ' -f"$n")
        $server_cpu nats-server -a 127.0.0.1 -p "$client" -m "$monitor" \
            --cluster_name bench --cluster "nats://127.0.0.1:$route" \
            ${routes:+--routes "$routes"} >"$work/nats-cluster-$n.log" 2>&1 &
        pids="$pids $!" logs="$logs $!:$work/nats-cluster-$n.log"
        [ "$n" -eq 1 ] && server_pid=$! || extra_pids="$extra_pids $!"
        "$mpbench" --wait-port "127.0.0.1:$route" || return 1
        routes="$routes${routes:+,}nats://127.0.0.1:$route"
    done
    server_pids=$(echo "$pids" | sed 's/^ //' | tr ' ' ,) syscall_pids=
    for monitor in $monitor_ports; do
        for _ in $(seq 100); do
            curl -s "http://127.0.0.1:$monitor/routez" | grep -q '"num_routes": 2,' &&
                continue 2
            sleep 0.1
        done
        echo "the nats-server monitored on $monitor has not its two routes after 10 s" >&2
        return 1
    done
}

# start_server TARGET PORT [PORT2]: start a fresh server for TARGET; sets
# server_pid and, for a cluster, extra_pids (its other processes,
# stopped after server_pid in this order); server_pids (every process
# whose CPU is the server side's, comma-separated) and syscall_pids
# (those whose system calls are the broker's).
start_server() {
    log="$work/$1.log"
    extra_pids= logs=
    case $1 in
    mp-binary | mp-json | mp-protobuf | mp-binary-base | mp-json-base)
        translator=${1#mp-}
        translator=${translator%-base}
        tree=$build
        case $1 in *-base) tree=$baseline ;; esac
        mp_conf "$work/mpbroker.conf" "$tree" "$translator" "$2"
        $server_cpu "$tree/broker/mpbroker" -c "$work/mpbroker.conf" 2>"$log" &
        ;;
    mp-cluster-*)
        log="$work/$1-1.log"
        start_mp_cluster "$@" && wait_listening "$1" "$2" && return 0
        tail -n 5 "$work/$1"-*.log >&2
        return 1
        ;;
    nats-cluster)
        log="$work/nats-cluster-1.log"
        start_nats_cluster "$2" "$3" && return 0
        tail -n 5 "$work"/nats-cluster-*.log >&2
        return 1
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
    socat)
        # Senders connect to PORT; for each, a child listens on PORT2 for
        # the receiver and copies one way, 256 KiB per read.
        $server_cpu socat -b 262144 -u "TCP-LISTEN:$2,bind=127.0.0.1,reuseaddr,fork" \
            "TCP-LISTEN:$3,bind=127.0.0.1,reuseaddr" >"$log" 2>&1 &
        ;;
    esac
    server_pid=$! server_pids=$! syscall_pids=$! logs="$!:$log"
    if ! wait_listening "$1" "$2"; then
        cat "$log" >&2
        return 1
    fi
}

# wait_listening TARGET PORT: until the server listens on PORT. socat's
# is not probed with a connection: that would fork a child that holds
# the receivers' port, waiting for a receiver of its own.
wait_listening() {
    if [ "$1" != socat ]; then
        "$mpbench" --wait-port "127.0.0.1:$2"
        return
    fi
    hex=$(printf '0100007F:%04X' "$2")
    for _ in $(seq 100); do
        awk -v a="$hex" '$2 == a && $4 == "0A" { found = 1; exit } END { exit !found }' \
            /proc/net/tcp && return 0
        sleep 0.1
    done
    echo "socat does not listen on $2" >&2
    return 1
}

# log_of PID: the log of a process start_server started ("PID:FILE"
# entries of $logs).
log_of() {
    for entry in $logs; do
        [ "${entry%%:*}" = "$1" ] && echo "${entry#*:}" && return 0
    done
    echo "$log"
}

# Stops the server and what it forked (socat's children, one per
# connection, outlive their parent), then a cluster's other processes
# (the brokers before their Redis, which they tell that they leave).
# A server that died before it was stopped, or crashed on its way out
# (killed by SIGABRT, SIGBUS, SIGFPE or SIGSEGV), is said and counted as
# a failure (its runs after that failed too; --smoke fails its target).
stop_server() {
    [ -z "$server_pid" ] || pkill -P "$server_pid" 2>/dev/null || :
    for pid in $server_pid $extra_pids; do
        status=0
        if kill "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || status=$?
            case $status in 134 | 135 | 136 | 139) ;; *) continue ;; esac
            how="crashed as it was stopped"
        else
            wait "$pid" 2>/dev/null || status=$?
            how="had exited before it was stopped"
        fi
        say "$target (pid $pid) $how (status $status): $(tail -n 3 "$(log_of "$pid")" 2>/dev/null)"
        died="$died $target"
        failed=$((failed + 1))
        failed_runs="$failed_runs${failed_runs:+; }$target: a server process $how (status $status)"
    done
    server_pid= extra_pids=
}

# --- progress -----------------------------------------------------------------

# The matrix is walked twice: once to count the runs and add up their
# expected seconds (planning=true), once to run them. Each run is
# announced with its number and the time left: what is planned, scaled
# by how long the runs so far really took against their plan.
planning=false
runs_planned=0 seconds_planned=0 runs_done=0 seconds_done=0

# expected_seconds ARGS...: what an mpbench run with these arguments
# takes, in whole seconds (rounded up; one warm-up, then the repetitions,
# and about 0.3 s of connecting and closing each).
expected_seconds() {
    case " $* " in
    *" memory "*) awk -v k="$idle_clients" 'BEGIN { printf "%d\n", 1 + k / 4000 + 0.999 }' ;;
    *) awk -v d="$duration" -v w="$warmup" -v r="$reps" \
        'BEGIN { printf "%d\n", w + r * (d + 0.3) + 0.999 }' ;;
    esac
}

minutes() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# announce SECONDS WHAT: count a run while planning, or say which it is.
announce() {
    if $planning; then
        runs_planned=$((runs_planned + 1))
        seconds_planned=$((seconds_planned + $1))
        $plan_only && printf '%4d s  %s\n' "$1" "$2"
        return 0
    fi
    runs_done=$((runs_done + 1))
    # The scale starts from 30 s at the planned pace, so that the first
    # runs (memory's estimate is the roughest) do not swing it.
    spent=$(($(date +%s) - started))
    left=$(((seconds_planned - seconds_done) * (spent + 30) / (seconds_done + 30)))
    say "[$runs_done/$runs_planned] $2 (about $(minutes "$left") left)"
    seconds_done=$((seconds_done + $1))
}

# --- the matrix ---------------------------------------------------------------

raw="$work/results.txt"
: >"$raw"
failed=0 failed_runs=

# driver_of TARGET: the mpbench target TARGET is driven as (its result
# lines are relabelled): a baseline as its own kind, a cluster as the
# system it is made of.
driver_of() {
    case $1 in
    *-base) echo "${1%-base}" ;;
    mp-cluster-json) echo mp-json ;;
    mp-cluster-*) echo mp-binary ;;
    nats-cluster) echo nats ;;
    *) echo "$1" ;;
    esac
}

# bench TARGET PORT ARGS...: one mpbench run, its result lines kept, each
# with the number of cores mpbench had (bench_cores=, for the
# generator-bound mark).
bench() {
    target=$1 port=$2
    shift 2
    secs=$(expected_seconds "$@")
    announce "$secs" "$target: $(describe -w throughput "$@")"
    $planning && return 0
    driver=$(driver_of "$target")
    if ! $bench_cpu "$mpbench" -t "$driver" -a "127.0.0.1:$port" -d "$duration" \
        --warmup "$warmup" -r "$reps" --server-pid "$server_pids" "$@" \
        >"$work/out" 2>"$work/err"; then
        say "mpbench -t $target $* failed: $(cat "$work/err")"
        failed=$((failed + 1))
        failed_runs="$failed_runs${failed_runs:+; }$target: $(describe -w throughput "$@")"
        return 0
    fi
    grep '^result ' "$work/out" |
        sed "s/ target=$driver / target=$target /; s/\$/ bench_cores=$bench_cores/" >>"$raw"
    grep -v '^result ' "$work/out" >&2
}

# describe ARGS...: mpbench's arguments as words, for the progress lines.
describe() {
    printf '%s\n' "$*" | awk '{
        w = ""; s = ""; p = ""; m = ""; c = ""; r = ""
        for (i = 1; i < NF; i++) {
            if ($i == "-w") w = $(i + 1)
            if ($i == "-s") s = $(i + 1) == 4096 ? "4 KiB" : $(i + 1) " B"
            if ($i == "-p") p = $(i + 1) == 1 ? "1 pair" : $(i + 1) " pairs"
            if ($i == "--send-mode") m = $(i + 1) == "single" ? "one message per write" : "batch"
            if ($i == "--procs") p = $(i + 1) " processes"
            if ($i == "-c" && w == "connect")
                c = $(i + 1) == 1 ? "1 connector (the time of a login)" : $(i + 1) " connectors"
            if ($i == "--receiver-address") r = "across servers"
        }
        out = w
        if (s != "") out = out (out == "" ? "" : " ") s
        if (p != "") out = out ", " p
        if (m != "") out = out ", " m
        if (c != "") out = out ", " c
        if (r != "") out = out ", " r
        print out
    }'
}

# count_syscalls TARGET PORT SIZE [ARGS...]: the broker's system calls
# (a cluster's: every broker's) during a 1-pair batch throughput run of
# SIZE-byte messages: perf counts them over a window inside the measured
# part of one run of mpbench, and the messages of that window are
# mpbench's rate times its length. Adds a "syscalls" line to the
# results. ARGS go to mpbench.
# shellcheck disable=SC2086
count_syscalls() {
    target=$1 port=$2 size=$3
    shift 3
    [ -n "$syscall_note" ] && return 0
    announce $((syscall_seconds + 3)) "$target: system calls per message, $(describe -s "$size" -p 1)"
    $planning && return 0
    events=raw_syscalls:sys_enter
    for call in epoll_wait epoll_pwait epoll_ctl ioctl read readv recvfrom recvmsg \
        write writev sendmsg sendto; do
        events="$events,syscalls:sys_enter_$call"
    done
    # perf takes about half a second to attach: it starts 1 s into the
    # run (after the 0.5 s warm-up) and stops 1 s before its end.
    $bench_cpu "$mpbench" -t "$(driver_of "$target")" -a "127.0.0.1:$port" -s "$size" -p 1 \
        -W 500 $batch_flag -d $((syscall_seconds + 2)) --warmup 0.5 -r 1 "$@" \
        >"$work/out" 2>"$work/err" &
    bench_pid=$!
    sleep 1
    perf stat -x, -e "$events" -p "$syscall_pids" -o "$work/perf" -- sleep "$syscall_seconds" ||
        say "perf stat failed: $(cat "$work/perf")"
    if ! wait "$bench_pid"; then
        say "mpbench for the system call count of $target failed: $(cat "$work/err")"
        failed=$((failed + 1))
        failed_runs="$failed_runs${failed_runs:+; }$target: system calls, $(describe -s "$size" -p 1)"
        return 0
    fi
    rate=$(sed -n 's/^result .* median=\([0-9.]*\) .*/\1/p' "$work/out")
    awk -F, -v t="$target" -v size="$size" -v seconds="$syscall_seconds" -v rate="$rate" '
        $3 == "raw_syscalls:sys_enter" { total = $1 }
        $3 ~ /^syscalls:sys_enter_/ {
            call = substr($3, 20); n = $1 + 0
            if (call ~ /^epoll_p?wait$/) c["epoll_wait"] += n
            else if (call == "epoll_ctl" || call == "ioctl") c[call] += n
            else if (call ~ /^(read|readv|recvfrom|recvmsg)$/) c["read"] += n
            else c["write"] += n
        }
        END {
            printf "syscalls target=%s size=%s pairs=1 seconds=%s msgs=%.0f total=%d", \
                t, size, seconds, rate * seconds, total
            printf " epoll_wait=%d epoll_ctl=%d ioctl=%d read=%d write=%d\n", \
                c["epoll_wait"], c["epoll_ctl"], c["ioctl"], c["read"], c["write"]
        }' "$work/perf" >>"$raw"
}

# matrix TARGET PORT: every run for TARGET, against the server on PORT.
# $batch_flag and $procs_flag are an option and its value, or nothing.
# shellcheck disable=SC2086
matrix() {
    target=$1 port=$2
    case $target in
    socat)
        for size in $sizes; do
            bench "$target" "$port" -s "$size" -p 1 -W 500 $batch_flag \
                --receiver-address "127.0.0.1:$port2"
        done
        return 0
        ;;
    mp-cluster-binary | mp-cluster-json | nats-cluster)
        cluster_matrix "$target" "$port" "127.0.0.1:$port2"
        return 0
        ;;
    mp-cluster-local)
        local_cluster_matrix "$target" "$port"
        return 0
        ;;
    esac
    if [ "$target" != relay ]; then
        bench "$target" "$port" -w memory -r 1 -k "$idle_clients" -c 200
        bench "$target" "$port" -w connect -c 16 $procs_flag
    fi
    # One connector: the time a login takes, for mp-cluster-local's.
    [ "$target" = mp-binary ] && bench "$target" "$port" -w connect -c 1
    bench "$target" "$port" -w latency -s 64
    for size in $sizes; do
        for pairs in $pair_counts; do
            bench "$target" "$port" -s "$size" -p "$pairs" -W 500 $batch_flag
        done
    done
    case $target in mqtt) return 0 ;; esac
    for mode in $send_modes; do
        [ "$mode" = single ] || continue
        for size in $sizes; do
            bench "$target" "$port" -s "$size" -p 1 -W 500 --send-mode single
        done
    done
    case $target in
    mp-*)
        for size in 4096 64; do
            count_syscalls "$target" "$port" "$size"
        done
        ;;
    esac
}

# cluster_matrix TARGET PORT RECEIVER_ADDRESS: across servers, the sender
# on the first (PORT), the receiver on the second (RECEIVER_ADDRESS).
# shellcheck disable=SC2086
cluster_matrix() {
    target=$1 port=$2 across="--receiver-address $3"
    bench "$target" "$port" -w latency -s 64 $across
    for size in $sizes; do
        bench "$target" "$port" -s "$size" -p 1 -W 500 $batch_flag $across
    done
    if [ "$target" = mp-cluster-binary ]; then
        for size in 4096 64; do
            count_syscalls "$target" "$port" "$size" $across
        done
    fi
}

# local_cluster_matrix TARGET PORT: a broker in a cluster, every client
# on it: what the cluster costs a login, and what it must not cost
# local traffic (compared with mp-binary's).
# shellcheck disable=SC2086
local_cluster_matrix() {
    target=$1 port=$2
    bench "$target" "$port" -w connect -c 16 $procs_flag
    bench "$target" "$port" -w connect -c 1
    for size in $sizes; do
        bench "$target" "$port" -s "$size" -p 1 -W 500 $batch_flag
    done
}

run_target() {
    target=$1
    # Nine more for a cluster's other processes (spare_ports): found in
    # one call, so that they are distinct.
    ports=$("$mpbench" --free-ports 11)
    port=$(echo "$ports" | sed -n 1p) port2=$(echo "$ports" | sed -n 2p)
    spare_ports=$(echo "$ports" | sed -n '3,$p')
    say "$target on 127.0.0.1:$port"
    if ! start_server "$target" "$port" "$port2"; then
        stop_server
        failed=$((failed + 1))
        failed_runs="$failed_runs${failed_runs:+; }$target: the server did not start"
        return 0
    fi
    matrix "$target" "$port"
    stop_server
}

planning=true port2=0
# TARGET=N for each target: its runs and all before it, for --smoke's
# verdict.
planned_upto=
for target in $targets; do
    matrix "$target" 0
    planned_upto="$planned_upto $target=$runs_planned"
done
planning=false
say "$runs_planned runs, about $(minutes "$seconds_planned")"
$plan_only && exit 0
started=$(date +%s)
for target in $targets; do
    run_target "$target"
done
elapsed=$(($(date +%s) - started))

if $smoke; then
    before=0
    for entry in $planned_upto; do
        target=${entry%=*} upto=${entry#*=}
        case " $died " in
        *" $target "*)
            say "$target: a server process died (see above)"
            echo "FAIL bench $target"
            ;;
        *)
            if [ "$(grep -c "^result target=$target " "$raw")" -ge $((upto - before)) ]; then
                echo "PASS bench $target"
            else
                echo "FAIL bench $target"
            fi
            ;;
        esac
        before=$upto
    done
    exit 0
fi

# --- RESULTS.md ---------------------------------------------------------------

versions() {
    echo "- $("$build/broker/mpbroker" -v 2>&1 | head -n 1), libevent $(pkg-config --modversion libevent 2>/dev/null || echo '?')"
    echo "- $(nats-server --version 2>&1 | head -n 1)"
    echo "- $(mosquitto -h 2>&1 | head -n 1)"
    echo "- $(redis-server --version 2>&1 | head -n 1)"
    echo "- $(socat -V 2>&1 | sed -n 's/^socat version \([^ ]*\).*/socat \1/p' | head -n 1)"
    echo "- $(uname -sr), $(nproc) cores: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
}

# draw_charts: throughput.svg and latency.svg from the data results.awk
# wrote; false when gnuplot fails (RESULTS.md then links no charts).
draw_charts() {
    gnuplot -e "data='$work'; out='$chart_dir'" "$top/bench/charts.gp" 2>"$work/gnuplot.err" &&
        return 0
    say "gnuplot failed: $(cat "$work/gnuplot.err")"
    return 1
}

drew=0
if $charts; then
    awk -v chart_data="$work" -f "$top/bench/results.awk" "$raw" >/dev/null
    draw_charts && drew=1
fi

{
    awk -v charts="$drew" -v syscall_note="$syscall_note" -f "$top/bench/results.awk" "$raw"
    echo
    echo "## How this was measured"
    echo
    echo "Command: \`$command_line\` ($runs_planned runs, $(minutes "$elapsed"), $(date -u +%Y-%m-%d))."
    echo
    versions
    echo
    if [ -n "$server_cpu" ]; then
        echo "Each server ran alone, pinned to CPU 0; mpbench ran pinned to CPU 1."
    else
        echo "One core: servers and mpbench shared it."
    fi
    echo "The machine is shared with other work and its figures drift between"
    echo "minutes: compare ratios within one run, not figures between runs."
    echo "Throughput: window 500 messages in flight per pair, $duration s measured"
    echo "after $warmup s of warm-up, median of $reps runs (min–max in brackets);"
    echo "the batch sender writes many messages per system call, the single"
    echo "sender one. socat relays one connection to one, so it has no 8-pair"
    echo "figures, and its server CPU is not shown (the work is done by a child"
    echo "forked per connection). Latency: one pair, ping-pong, 64 B, the round"
    echo "trips of $reps runs of $duration s merged into one histogram. Connect:"
    echo "16 connectors shared by $connect_procs mpbench processes (\`--procs $connect_procs\`);"
    echo "each connector connects, logs in (and subscribes, where a name"
    echo "is a subscription), waits for the answer, closes. One process was the"
    echo "limit (at 93–99 % of its core); the processes share the generator's"
    echo "one core, since the server keeps the other to itself, so the connect"
    echo "table also gives each server's connections per second of its own CPU,"
    echo "the figure the generator cannot cap. Memory: the server's VmRSS before"
    echo "and after $idle_clients idle ready clients, on a fresh server. System"
    echo "calls: \`perf stat -e\` on the syscall tracepoints of the broker's"
    echo "process for $syscall_seconds s inside a 1-pair batch throughput run,"
    echo "divided by mpbench's rate times $syscall_seconds s."
    echo
    echo "Cluster targets: \`mp-cluster-binary\` and \`mp-cluster-json\` are a"
    echo "redis-server (no persistence) and two brokers in one cluster, linked"
    echo "over loopback with a shared secret; the sender logs in on the first"
    echo "broker and the receiver on the second, so that every message crosses"
    echo "the brokers' link. \`nats-cluster\` is three nats-servers routed on"
    echo "loopback (a full mesh, measured once each has its two routes), the"
    echo "publisher on node 1 and the subscriber on node 2; before measuring,"
    echo "mpbench publishes until a message has crossed each way, since a"
    echo "subscription reaches the other nodes a moment after its PONG."
    echo "\`mp-cluster-local\` is a redis-server and one broker with a \`cluster\`"
    echo "group, every client on it. All processes of a cluster, Redis included,"
    echo "ran on the server's one core, so that a cluster is measured with the"
    echo "core a single server gets; their CPU figures are summed. The time of a"
    echo "login: one connector connecting, logging in, waiting for the answer"
    echo "and closing, one after the other (mpbench -w connect -c 1), against"
    echo "mp-binary's same run."
    [ "$failed" -gt 0 ] && echo && echo "**$failed runs failed; their figures are missing:** $failed_runs."
    echo
    # What the profiles showed, and what bounds the goals not met: written
    # by hand from perf and massif runs (the commands are in it).
    cat "$top/bench/profiles.md"
} >"$work/RESULTS.md"
cp "$work/RESULTS.md" "$results"
say "wrote $results in $(minutes "$elapsed")"
cat "$results"
