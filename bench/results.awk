# results.awk - bench/RESULTS.md's tables from mpbench's "result" lines
# and compare.sh's "syscalls" lines (bench/compare.sh). Every ratio is
# the figure divided by mpbroker's (binary format) for the same workload,
# but in the cluster's tables, which say what they divide by.
#
#   awk [-v charts=1] [-v syscall_note=TEXT] -f results.awk RAW   RESULTS.md's tables
#   awk -v chart_data=DIR -f results.awk RAW     the data bench/charts.gp draws
#
# A figure is generator-bound when mpbench was at >= 90 % of the cores
# it could use (bench_cpu is the sum over its --procs processes, each of
# which can use at most one of the bench_cores cores compare.sh gave it):
# it then shows the generator's limit, not the server's. Such figures
# carry a mark, and a goal whose comparison has one on either side is
# never "met".

function field(name,   i, kv) {
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == name)
            return kv[2]
    }
    return ""
}

function label(t) {
    return t == "mp-binary" ? "mpbroker, binary" : t == "mp-json" ? "mpbroker, JSON" : \
        t == "mp-protobuf" ? "mpbroker, protobuf" : \
        t == "mp-binary-base" ? "baseline mpbroker, binary" : \
        t == "mp-json-base" ? "baseline mpbroker, JSON" : \
        t == "nats" ? "nats-server" : t == "mqtt" ? "mosquitto (MQTT 3.1.1, QoS 0)" : \
        t == "redis" ? "redis-server (pub/sub)" : t == "relay" ? "relay (one hop, no parsing)" : \
        t == "socat" ? "socat (one hop, no parsing)" : \
        t == "mp-cluster-binary" ? "mpbroker across 2 brokers, binary" : \
        t == "mp-cluster-json" ? "mpbroker across 2 brokers, JSON" : \
        t == "mp-cluster-local" ? "mpbroker, binary, in a cluster (clients local)" : \
        t == "nats-cluster" ? "nats-server cluster, across 2 of 3 nodes" : t
}

# The short name a chart's key has room for.
function short(t) {
    return t == "mp-binary" ? "mpbroker binary" : t == "mp-json" ? "mpbroker JSON" : \
        t == "mp-protobuf" ? "mpbroker protobuf" : \
        t == "mp-binary-base" ? "baseline binary" : t == "mp-json-base" ? "baseline JSON" : \
        t == "nats" ? "nats-server" : t == "mqtt" ? "mosquitto" : t == "redis" ? "redis-server" : \
        t == "mp-cluster-binary" ? "mpbroker 2 brokers" : t == "mp-cluster-json" ? "mpbroker 2 brokers JSON" : \
        t == "mp-cluster-local" ? "mpbroker in a cluster" : t == "nats-cluster" ? "nats-server cluster" : t
}

# A chart colour per system, the same in every run whichever ran.
function colour(t) {
    return t == "mp-binary" ? "#1b9e77" : t == "mp-binary-base" ? "#8fd1bd" : \
        t == "mp-json" ? "#d95f02" : t == "mp-json-base" ? "#f4b183" : t == "nats" ? "#7570b3" : \
        t == "mp-protobuf" ? "#a6761d" : \
        t == "mqtt" ? "#e7298a" : t == "redis" ? "#c0392b" : t == "relay" ? "#555555" : \
        t == "socat" ? "#e6ab02" : t == "mp-cluster-binary" ? "#0b5e47" : \
        t == "mp-cluster-json" ? "#8c3d01" : t == "mp-cluster-local" ? "#66a61e" : \
        t == "nats-cluster" ? "#3f3a78" : "#999999"
}

function k(v) { return v >= 1e6 ? sprintf("%.2f M", v / 1e6) : sprintf("%.1f k", v / 1e3) }

# A figure, or "" when it was not measured (reading median[] would add it).
function val(f) { return (f in median) ? median[f] + 0 : "" }

function ratio(v, base) { return (v == "" || base == "" || base == 0) ? "-" : sprintf("%.2f×", v / base) }

# The key of a figure: target, workload, size, pairs, sender.
function key(t, w, size, pairs, mode) { return t SUBSEP w SUBSEP size SUBSEP pairs SUBSEP mode }
function tput(t, size, pairs, mode) { return key(t, "throughput", size, pairs, mode) }

function mark(f) { return (f in bound) ? " " GB : "" }

function cell(f) {
    if (!(f in median))
        return "-"
    return k(median[f]) " (" k(lo[f]) "–" k(hi[f]) ")" mark(f)
}

# CPU use "server / mpbench"; socat's server figure is its listening
# parent's, not the forked child's that does the work.
function cpu_cell(f, t) {
    if (!(f in bench_cpu))
        return "-"
    return (t == "socat" ? "-" : server_cpu[f]) " / " bench_cpu[f] mark(f)
}

function mb(f) { return (f in median) ? sprintf("%.0f", median[f] * size_of[f] / 1e6) mark(f) : "-" }

# goal TEXT VALUE WANT MET WHO: a goal row; WHO names the generator-bound
# sides of the comparison ("" when none), which leaves it unshown.
function goal(text, value, want, met, who) {
    printf "| %s | %s | %s | %s |\n", text, value, want, \
        who != "" ? "not shown: generator-bound (" who ")" : met ? "**met**" : "not met"
}

# Which of two figures are generator-bound, as words for goal().
function bound_sides(a, ta, b, tb) {
    if ((a in bound) && (b in bound))
        return "both"
    return (a in bound) ? label(ta) : (b in bound) ? label(tb) : ""
}

# ratio_goal TEXT A TA B TB WANT: the goal "A ÷ B >= WANT".
function ratio_goal(text, a, ta, b, tb, want) {
    if (val(a) > 0 && val(b) > 0)
        goal(text, sprintf("%.2f×", val(a) / val(b)), sprintf("≥ %.1f×", want), \
             val(a) / val(b) >= want, bound_sides(a, ta, b, tb))
}

function legend() {
    print ""
    print GB " generator-bound: mpbench was at ≥ 90 % of its core while measuring,"
    print "so the figure is the generator's limit, not necessarily the server's."
}

$1 == "result" {
    t = field("target"); w = field("workload"); mode = field("send_mode")
    if (mode == "")
        mode = "batch"
    # One connector at a time: the rate is one over the time of a login.
    if (w == "connect" && field("concurrency") == 1)
        w = "login"
    f = key(t, w, field("size"), field("pairs"), mode)
    seen[t] = 1
    if (w == "latency") {
        p50[t] = field("p50_us"); p90[t] = field("p90_us"); p99[t] = field("p99_us")
        p999[t] = field("p99_9_us"); samples[t] = field("samples")
        next
    }
    median[f] = field("median"); lo[f] = field("min"); hi[f] = field("max")
    size_of[f] = field("size")
    if (mode == "single")
        any_single = 1
    if (field("bench_cpu") == "")
        next
    server_cpu[f] = field("server_cpu"); bench_cpu[f] = field("bench_cpu")
    procs = field("bench_procs") + 0; cores = field("bench_cores") + 0
    procs = procs > 0 ? procs : 1; cores = cores > 0 ? cores : 1
    if (bench_cpu[f] + 0 >= 90 * (procs < cores ? procs : cores)) {
        bound[f] = 1
        any_bound = 1
    }
}

$1 == "syscalls" {
    t = field("target"); s = field("size")
    sc_seen[t SUBSEP s] = 1
    sc_count++
    sc_msgs[t SUBSEP s] = field("msgs")
    split("epoll_wait epoll_ctl ioctl read write total", calls, " ")
    for (i = 1; i <= 6; i++)
        sc[t SUBSEP s SUBSEP calls[i]] = field(calls[i])
}

function throughput_table(   i, t, c, sp, f, line) {
    print "| target | 64 B, 1 pair | | 64 B, 8 pairs | | 4 KiB, 1 pair | | 4 KiB, 8 pairs | |"
    print "|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (!(t in seen))
            continue
        line = "| " label(t)
        for (c = 1; c <= 4; c++) {
            split(cases[c], sp, " ")
            f = tput(t, sp[1], sp[2], "batch")
            line = line " | " cell(f) " | " ratio(val(f), val(tput(mp, sp[1], sp[2], "batch")))
        }
        print line " |"
    }
}

function single_table(   i, t, s, f, b, line) {
    print "| target | 64 B, 1 pair | ratio | ÷ batch | 4 KiB, 1 pair | ratio | ÷ batch |"
    print "|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (!(tput(t, 64, 1, "single") in median) && !(tput(t, 4096, 1, "single") in median))
            continue
        line = "| " label(t)
        for (s = 64; s <= 4096; s *= 64) {
            f = tput(t, s, 1, "single"); b = tput(t, s, 1, "batch")
            line = line " | " cell(f) " | " ratio(val(f), val(tput(mp, s, 1, "single"))) \
                " | " ratio(val(f), val(b))
        }
        print line " |"
    }
}

function mb_table(   i, t, c, sp, line) {
    print "| target | 64 B, 1 pair | 64 B, 8 pairs | 4 KiB, 1 pair | 4 KiB, 8 pairs |"
    print "|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (!(t in seen))
            continue
        line = "| " label(t)
        for (c = 1; c <= 4; c++) {
            split(cases[c], sp, " ")
            line = line " | " mb(tput(t, sp[1], sp[2], "batch"))
        }
        print line " |"
    }
}

function cpu_table(   i, t, c, sp, line) {
    printf "| target | 64 B, 1 pair | 64 B, 8 pairs | 4 KiB, 1 pair | 4 KiB, 8 pairs |"
    if (any_single)
        printf " 64 B, one per write | 4 KiB, one per write |"
    print " connect |"
    print "|---|---|---|---|---|" (any_single ? "---|---|" : "") "---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (!(t in seen))
            continue
        line = "| " label(t)
        for (c = 1; c <= 4; c++) {
            split(cases[c], sp, " ")
            line = line " | " cpu_cell(tput(t, sp[1], sp[2], "batch"), t)
        }
        if (any_single)
            line = line " | " cpu_cell(tput(t, 64, 1, "single"), t) " | " \
                cpu_cell(tput(t, 4096, 1, "single"), t)
        print line " | " cpu_cell(key(t, "connect", 64, 1, "batch"), t) " |"
    }
}

function connect_table(   i, t, ck, mk, per_core) {
    print "| target | connects/s | ratio | per second of server CPU | ratio | bytes per idle client | ratio |"
    print "|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        ck = key(t, "connect", 64, 1, "batch"); mk = key(t, "memory", 64, 1, "batch")
        if (!(ck in median) && !(mk in median))
            continue
        per_core = server_cpu[ck] + 0 > 0 ? val(ck) * 100 / server_cpu[ck] : ""
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", label(t), cell(ck), \
            ratio(val(ck), val(key(mp, "connect", 64, 1, "batch"))), \
            per_core != "" ? k(per_core) : "-", ratio(per_core, mp_per_core), \
            (mk in median) ? sprintf("%.0f", median[mk]) : "-", \
            ratio(val(mk), val(key(mp, "memory", 64, 1, "batch")))
    }
}

# Calls per message: small figures (64 B, batched) keep two digits.
function per_msg_value(t, s, call) { return sc[t SUBSEP s SUBSEP call] / sc_msgs[t SUBSEP s] }
function fmt_per_msg(v) { return v >= 0.1 ? sprintf("%.2f", v) : v < 1e-4 ? "0.00" : sprintf("%.2g", v) }
function per_msg(t, s, call) { return fmt_per_msg(per_msg_value(t, s, call)) }

function syscall_table(   sizes, j, s, i, t, base, other, c, m, line) {
    print "| target | size | messages counted | epoll_wait | epoll_ctl | ioctl | read/readv | write/writev/sendmsg | other | total | total ÷ baseline's |"
    print "|---|---|---|---|---|---|---|---|---|---|---|"
    split("4096 64", sizes, " ")
    split("epoll_wait epoll_ctl ioctl read write", c, " ")
    for (j = 1; j <= 2; j++) {
        s = sizes[j]
        for (i = 1; i <= n; i++) {
            t = order[i]
            if (!((t SUBSEP s) in sc_seen) || !(sc_msgs[t SUBSEP s] > 0))
                continue
            other = sc[t SUBSEP s SUBSEP "total"]
            line = "| " label(t) " | " (s == 4096 ? "4 KiB" : s " B") " | " k(sc_msgs[t SUBSEP s])
            for (m = 1; m <= 5; m++) {
                line = line " | " per_msg(t, s, c[m])
                other -= sc[t SUBSEP s SUBSEP c[m]]
            }
            # The total is counted by its own tracepoint, a moment apart.
            other = other > 0 ? other : 0
            line = line " | " fmt_per_msg(other / sc_msgs[t SUBSEP s]) " | " per_msg(t, s, "total")
            base = t "-base"
            if ((base SUBSEP s) in sc_seen && sc_msgs[base SUBSEP s] > 0)
                line = line " | " ratio(per_msg_value(t, s, "total"), per_msg_value(base, s, "total"))
            else
                line = line " | -"
            print line " |"
        }
    }
}

# An entry of a per-target array, or "" (reading it would add it).
function of(arr, t) { return (t in arr) ? arr[t] : "" }

function us(v) { return v == "" ? "-" : sprintf("%.1f", v) }

# The cluster's goals (issue 17), those whose targets ran: across two
# brokers against the NATS cluster and against one broker; a login and
# local traffic with a cluster group against the same without.
function cluster_goals(   cb, cn, l0, l1, s, c, b, r, size) {
    cb = tput("mp-cluster-binary", 64, 1, "batch"); cn = tput("nats-cluster", 64, 1, "batch")
    ratio_goal("cluster, 64 B, 1 pair: msgs/s across 2 brokers ÷ the NATS cluster's, node 1 to 2", \
               cb, "mp-cluster-binary", cn, "nats-cluster", 1.0)
    if (val(cb) > 0 && val(b64) > 0)
        goal("cluster, 64 B, 1 pair: msgs/s across 2 brokers ÷ one broker's", \
             sprintf("%.0f %%", 100 * val(cb) / val(b64)), "≥ 50 %", val(cb) / val(b64) >= 0.5, \
             bound_sides(cb, "mp-cluster-binary", b64, mp))
    if (of(p50, "mp-cluster-binary") > 0 && of(p50, "nats-cluster") > 0) {
        r = p50["mp-cluster-binary"] / p50["nats-cluster"]
        goal("cluster, ping-pong p50 across 2 brokers ÷ the NATS cluster's, node 1 to 2", \
             sprintf("%.2f×", r), "≤ 1.3×", r <= 1.3, "")
    }
    l0 = key(mp, "login", 64, 1, "batch"); l1 = key("mp-cluster-local", "login", 64, 1, "batch")
    if (val(l0) > 0 && val(l1) > 0)
        goal("time of a login (1 connector) in a cluster ÷ alone", sprintf("%.2f×", val(l0) / val(l1)), \
             "≤ 2.0×", val(l0) / val(l1) <= 2, bound_sides(l1, "mp-cluster-local", l0, mp))
    for (s = 64; s <= 4096; s *= 64) {
        c = tput("mp-cluster-local", s, 1, "batch"); b = tput(mp, s, 1, "batch")
        size = s == 64 ? "64 B" : "4 KiB"
        if (val(c) > 0 && val(b) > 0) {
            r = val(c) / val(b)
            goal(size ", 1 pair: msgs/s in a cluster (clients local) ÷ alone", sprintf("%.2f×", r), \
                 "0.90–1.10×", r >= 0.9 && r <= 1.1, bound_sides(c, "mp-cluster-local", b, mp))
        }
    }
}

# Across servers: each cluster against the same system alone.
function across_table(   rows, i, tt, t, a, line, s, f) {
    print "| target | 64 B, 1 pair | ÷ alone | 4 KiB, 1 pair | ÷ alone | p50 µs | ÷ alone | p99 µs | ÷ alone |"
    print "|---|---|---|---|---|---|---|---|---|"
    split("mp-cluster-binary mp-binary|mp-cluster-json mp-json|nats-cluster nats", rows, "|")
    for (i = 1; i <= 3; i++) {
        split(rows[i], tt, " "); t = tt[1]; a = tt[2]
        if (!(t in seen))
            continue
        line = "| " label(t)
        for (s = 64; s <= 4096; s *= 64) {
            f = tput(t, s, 1, "batch")
            line = line " | " cell(f) " | " ratio(val(f), val(tput(a, s, 1, "batch")))
        }
        line = line " | " us(of(p50, t)) " | " ratio(of(p50, t), of(p50, a)) \
            " | " us(of(p99, t)) " | " ratio(of(p99, t), of(p99, a))
        print line " |"
    }
}

# One broker with a cluster group, every client on it, against the
# broker alone: local traffic, connections, the time of a login.
function local_cluster_table(   rows, i, t, line, s, ck, lk, per_core, core, v, base) {
    print "| target | 64 B, 1 pair | 4 KiB, 1 pair | connects/s, 16 connectors | per second of server CPU | time of a login, µs |"
    print "|---|---|---|---|---|---|"
    split(mp " mp-cluster-local", rows, " ")
    for (i = 1; i <= 2; i++) {
        t = rows[i]
        line = "| " label(t)
        for (s = 64; s <= 4096; s *= 64)
            line = line " | " cell(tput(t, s, 1, "batch"))
        ck = key(t, "connect", 64, 1, "batch"); lk = key(t, "login", 64, 1, "batch")
        per_core = server_cpu[ck] + 0 > 0 ? val(ck) * 100 / server_cpu[ck] : ""
        core[i] = per_core
        line = line " | " cell(ck) " | " (per_core != "" ? k(per_core) : "-") \
            " | " (val(lk) > 0 ? sprintf("%.0f", 1e6 / val(lk)) mark(lk) : "-")
        print line " |"
    }
    line = "| in a cluster ÷ alone"
    for (s = 64; s <= 4096; s *= 64)
        line = line " | " ratio(val(tput("mp-cluster-local", s, 1, "batch")), val(tput(mp, s, 1, "batch")))
    ck = "connect"
    line = line " | " ratio(val(key("mp-cluster-local", ck, 64, 1, "batch")), val(key(mp, ck, 64, 1, "batch"))) \
        " | " ratio(core[2], core[1])
    v = val(key("mp-cluster-local", "login", 64, 1, "batch")); base = val(key(mp, "login", 64, 1, "batch"))
    # Times: the inverse of the rates' ratio.
    print line " | " ratio(base, v) " |"
}

function cluster_section() {
    if (!("mp-cluster-binary" in seen) && !("mp-cluster-json" in seen) && \
        !("nats-cluster" in seen) && !("mp-cluster-local" in seen))
        return
    print ""
    print "## Cluster"
    print ""
    print "Across servers: two brokers sharing one redis-server, the sender logged"
    print "in on one, the receiver on the other, every message over the brokers'"
    print "link; three nats-servers routed on loopback, the publisher on node 1,"
    print "the subscriber on node 2. Every process of a cluster, its Redis"
    print "included, runs on the server's one core, as a single server does: the"
    print "figures compare what each system does with one core. The ratios"
    print "divide by the same system alone in this run (one broker, one"
    print "nats-server)."
    print ""
    across_table()
    print ""
    print "In a cluster, every client local: one broker with a `cluster` group and"
    print "its redis-server, against the broker alone. A login waits for one Redis"
    print "round trip (the claim script) before its AuthOk; local traffic should not"
    print "notice the cluster. The time of a login is one connector's: connect, log"
    print "in, wait for the answer, close, one after the other; the server CPU of the"
    print "cluster counts its redis-server."
    print ""
    local_cluster_table()
    if (any_bound)
        legend()
}

# The charts' data: throughput.dat (one bar a line: size, group, system,
# msgs/s, MB/s, generator-bound, x), latency.dat (group, system, µs, x)
# and names.gp (the systems' names and colours, which have a latency
# figure, and the groups' tics).
function chart_files(   i, t, ns, idx, groups, ng, g, s, f, x, tics, gp) {
    ns = 0
    for (i = 1; i <= n; i++)
        if (order[i] in seen)
            idx[order[i]] = ++ns
    ng = any_single ? 3 : 2
    split("1 batch|8 batch|1 single", groups, "|")
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (!(t in idx))
            continue
        for (g = 1; g <= ng; g++) {
            split(groups[g], sp, " ")
            for (s = 64; s <= 4096; s *= 64) {
                f = tput(t, s, sp[1], sp[2])
                if (!(f in median))
                    continue
                x = (g - 1) * (ns + 1) + idx[t]
                printf "%d %d %d %s %.1f %d %d\n", s, g, idx[t], median[f], median[f] * s / 1e6, \
                    (f in bound), x > (chart_data "/throughput.dat")
            }
        }
        if (t in p50)
            printf "1 %d %s %d\n2 %d %s %d\n3 %d %s %d\n4 %d %s %d\n", \
                idx[t], p50[t], idx[t], idx[t], p90[t], ns + 1 + idx[t], \
                idx[t], p99[t], 2 * (ns + 1) + idx[t], idx[t], p999[t], 3 * (ns + 1) + idx[t] \
                > (chart_data "/latency.dat")
    }
    gp = chart_data "/names.gp"
    printf "ns = %d\narray names[%d]\narray colours[%d]\narray has_latency[%d]\n", ns, ns, ns, ns > gp
    for (t in idx)
        printf "names[%d] = \"%s\"\ncolours[%d] = \"%s\"\nhas_latency[%d] = %d\n", idx[t], short(t), \
            idx[t], colour(t), idx[t], (t in p50) > gp
    tics = "set xtics (\"1 pair\" %g, \"8 pairs\" %g" (ng == 3 ? ", \"1 pair, one per write\" %g" : "") ")"
    printf "tp_xtics = '" tics "'\n", (ns + 1) / 2, (ns + 1) * 1.5, (ns + 1) * 2.5 > gp
    printf "lat_xtics = 'set xtics (\"p50\" %g, \"p90\" %g, \"p99\" %g, \"p99.9\" %g)'\n", \
        (ns + 1) / 2, (ns + 1) * 1.5, (ns + 1) * 2.5, (ns + 1) * 3.5 > gp
    printf "xmax = %d\nlat_xmax = %d\n", ng * (ns + 1), 4 * (ns + 1) > gp
    # An empty file still draws (gnuplot refuses a missing one).
    printf "" >> (chart_data "/throughput.dat"); printf "" >> (chart_data "/latency.dat")
}

END {
    GB = "†"
    n = split("mp-binary-base mp-binary mp-json-base mp-json mp-protobuf mp-cluster-local mp-cluster-binary " \
              "mp-cluster-json nats nats-cluster mqtt redis relay socat", order, " ")
    split("64 1|64 8|4096 1|4096 8", cases, "|")
    mp = "mp-binary"
    if (chart_data != "") {
        chart_files()
        exit
    }

    print "# mpbroker benchmark results"
    print ""
    print "Written by `bench/compare.sh` (see the end for the machine and the"
    print "command). Ratios are each figure divided by mpbroker's, binary format,"
    print "for the same workload: above 1 the other system did more (or, for"
    print "latency and memory, took more). " GB " marks a generator-bound figure:"
    print "mpbench was at ≥ 90 % of its core, so the figure says more about the"
    print "generator than about the server."

    print ""
    print "## Goals"
    print ""
    print "Throughput goals are measured with the batch sender (many messages per"
    print "write). A goal is met only when neither side of its comparison was"
    print "generator-bound."
    print ""
    print "| goal | measured | wanted | |"
    print "|---|---|---|---|"
    b64 = tput(mp, 64, 1, "batch")
    ratio_goal("64 B, 1 pair: mpbroker msgs/s ÷ " label("nats"), b64, mp, tput("nats", 64, 1, "batch"), "nats", 1.3)
    ratio_goal("64 B, 1 pair: mpbroker msgs/s ÷ " label("mqtt"), b64, mp, tput("mqtt", 64, 1, "batch"), "mqtt", 2.0)
    ratio_goal("64 B, 1 pair: mpbroker msgs/s ÷ " label("redis"), b64, mp, tput("redis", 64, 1, "batch"), "redis", 2.0)
    b4k = tput(mp, 4096, 1, "batch")
    ratio_goal("4 KiB, 1 pair: mpbroker msgs/s ÷ " label("redis"), b4k, mp, tput("redis", 4096, 1, "batch"), "redis", 1.0)
    ratio_goal("4 KiB, 1 pair: mpbroker msgs/s ÷ " label("nats"), b4k, mp, tput("nats", 4096, 1, "batch"), "nats", 1.0)
    for (p = 1; p <= 8; p *= 8) {
        r = tput("relay", 4096, p, "batch"); m = tput(mp, 4096, p, "batch")
        if (val(r) > 0 && val(m) > 0)
            goal("4 KiB, " p " pair" (p > 1 ? "s" : "") ": mpbroker MB/s ÷ relay's", \
                 sprintf("%.0f %%", 100 * val(m) / val(r)), "≥ 70 %", \
                 val(m) / val(r) >= 0.7, bound_sides(m, mp, r, "relay"))
    }
    ratio_goal("4 KiB, 1 pair: mpbroker JSON msgs/s ÷ " label("nats"), tput("mp-json", 4096, 1, "batch"), \
               "mp-json", tput("nats", 4096, 1, "batch"), "nats", 0.6)
    if (of(p50, "relay") > 0 && of(p50, mp) > 0) {
        goal("ping-pong p50 ÷ relay's", sprintf("%.2f×", p50[mp] / p50["relay"]), "≤ 1.2×", \
             p50[mp] / p50["relay"] <= 1.2, "")
        goal("ping-pong p99 ÷ relay's", sprintf("%.2f×", p99[mp] / p99["relay"]), "≤ 1.5×", \
             p99[mp] / p99["relay"] <= 1.5, "")
    }
    mem = val(key(mp, "memory", 64, 1, "batch"))
    if (mem != "")
        goal("broker RSS per idle client", sprintf("%.0f B", mem), "≤ 1024 B", mem <= 1024, "")
    ratio_goal("connect+auth rate ÷ mosquitto's", key(mp, "connect", 64, 1, "batch"), mp, \
               key("mqtt", "connect", 64, 1, "batch"), "mqtt", 1.0)
    j = tput("mp-json", 64, 1, "batch")
    if (val(j) > 0 && val(b64) > 0)
        goal("64 B, 1 pair: binary msgs/s ÷ JSON's", sprintf("%.2f×", val(b64) / val(j)), \
             "≤ 3×", val(b64) / val(j) <= 3, bound_sides(b64, mp, j, "mp-json"))
    cluster_goals()

    print ""
    print "## Throughput"
    print ""
    if (charts)
        print "![Throughput per message size, every system side by side](throughput.svg)\n"
    print "Messages per second counted at the receivers, the batch sender (many"
    print "messages per write): median (min–max), and the ratio to mpbroker's."
    print ""
    throughput_table()
    if (any_bound)
        legend()
    print ""
    print "The same in MB/s (10^6 bytes of payload per second):"
    print ""
    mb_table()
    if (any_single) {
        print ""
        print "### One message per write"
        print ""
        print "The single sender makes one system call per message, as a client that"
        print "writes each message as it comes does: messages per second, the ratio to"
        print "mpbroker's, and to the same target's batch figure."
        print ""
        single_table()
    }
    print ""
    print "Who was busy: CPU use of the server / of mpbench, in % of one core,"
    print "while measuring (each has a core of its own; the connect workload's"
    print "mpbench processes share theirs and are summed). A server below 100 %"
    print "next to mpbench at 100 % was not the limit: the generator was."
    print ""
    cpu_table()
    if (any_bound)
        legend()

    print ""
    print "## System calls per message"
    print ""
    if (sc_count == 0) {
        print "Not measured" (syscall_note != "" ? ": " syscall_note "." : ".")
    } else {
        print "The broker's system calls during a 1-pair throughput run (batch sender),"
        print "divided by the messages the receivers counted over the same window."
        print "read/readv counts read, readv, recvfrom and recvmsg; write/writev/sendmsg"
        print "counts write, writev, sendmsg and sendto; epoll_wait includes"
        print "epoll_pwait. A cluster's figures are those of both its brokers (each"
        print "message passes through both): divided by two, they compare with one"
        print "broker's."
        print ""
        syscall_table()
    }

    print ""
    print "## Latency"
    print ""
    if (charts)
        print "![Round-trip percentiles, every system side by side](latency.svg)\n"
    print "Round trips of a 64 B ping-pong (window 1), in µs, and the ratio of p50"
    print "and p99 to mpbroker's."
    print ""
    print "| target | p50 | p90 | p99 | p99.9 | p50 ratio | p99 ratio | round trips |"
    print "|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (t in p50)
            printf "| %s | %.1f | %.1f | %.1f | %.1f | %s | %s | %d |\n", label(t), p50[t], p90[t], \
                p99[t], p999[t], ratio(p50[t], p50[mp]), ratio(p99[t], p99[mp]), samples[t]
    }

    print ""
    print "## Connections and memory"
    print ""
    print "Connections per second to the ready state (median, min–max); the same"
    print "divided by the server's CPU use, which is the server's own limit when"
    print "the generator is the bottleneck; and the server's RSS per idle ready"
    print "client."
    print ""
    ck = key(mp, "connect", 64, 1, "batch")
    mp_per_core = server_cpu[ck] + 0 > 0 ? val(ck) * 100 / server_cpu[ck] : ""
    connect_table()
    if (any_bound)
        legend()
    cluster_section()
}
