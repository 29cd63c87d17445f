# results.awk - bench/RESULTS.md's tables from mpbench's "result" lines
# (bench/compare.sh). Every ratio is the figure divided by mpbroker's
# (binary format) for the same workload.

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
        t == "mp-binary-base" ? "baseline mpbroker, binary" : \
        t == "mp-json-base" ? "baseline mpbroker, JSON" : \
        t == "nats" ? "nats-server" : t == "mqtt" ? "mosquitto (MQTT 3.1.1, QoS 0)" : \
        t == "redis" ? "redis-server (pub/sub)" : t == "relay" ? "relay (one hop, no parsing)" : t
}

function k(v) { return v >= 1e6 ? sprintf("%.2f M", v / 1e6) : sprintf("%.1f k", v / 1e3) }

function ratio(v, base) { return (v == "" || base == "" || base == 0) ? "-" : sprintf("%.2f×", v / base) }

function cell(key,   v) {
    if (!(key in median))
        return "-"
    v = median[key]
    return k(v) " (" k(lo[key]) "–" k(hi[key]) ")"
}

function goal(text, value, want, met) {
    printf "| %s | %s | %s | %s |\n", text, value, want, met ? "**met**" : "not met"
}

$1 == "result" {
    t = field("target"); w = field("workload"); key = t SUBSEP w SUBSEP field("size") SUBSEP field("pairs")
    seen[t] = 1
    if (w == "latency") {
        p50[t] = field("p50_us"); p90[t] = field("p90_us"); p99[t] = field("p99_us")
        p999[t] = field("p99_9_us"); samples[t] = field("samples")
    } else {
        median[key] = field("median"); lo[key] = field("min"); hi[key] = field("max")
        if (field("server_cpu") != "")
            cpu[key] = field("server_cpu") " / " field("bench_cpu")
    }
}

END {
    n = split("mp-binary-base mp-binary mp-json-base mp-json nats mqtt redis relay", order, " ")
    split("64 1|64 8|4096 1|4096 8", cases, "|")

    print "# mpbroker benchmark results"
    print ""
    print "Written by `bench/compare.sh` (see the end for the machine and the"
    print "command). Ratios are each figure divided by mpbroker's, binary format,"
    print "for the same workload: above 1 the other system did more (or, for"
    print "latency and memory, took more)."

    mp = "mp-binary"
    tp = SUBSEP "throughput" SUBSEP
    print ""
    print "## Goals"
    print ""
    print "| goal | measured | wanted | |"
    print "|---|---|---|---|"
    b64 = median[mp tp "64" SUBSEP "1"]
    split("nats mqtt redis", peers, " ")
    for (i = 1; i <= 3; i++) {
        o = median[peers[i] tp "64" SUBSEP "1"]
        want = peers[i] == "nats" ? 1.0 : 2.0
        if (o > 0 && b64 > 0)
            goal("64 B, 1 pair: mpbroker msgs/s ÷ " label(peers[i]), sprintf("%.2f×", b64 / o), \
                 sprintf("≥ %.1f×", want), b64 / o >= want)
    }
    for (p = 1; p <= 8; p *= 8) {
        r = median["relay" tp "4096" SUBSEP p]; m = median[mp tp "4096" SUBSEP p]
        if (r > 0 && m > 0)
            goal("4 KiB, " p " pair" (p > 1 ? "s" : "") ": mpbroker MB/s ÷ relay's", \
                 sprintf("%.0f %%", 100 * m / r), "≥ 70 %", m / r >= 0.7)
    }
    if (p50["relay"] > 0 && p50[mp] > 0) {
        goal("ping-pong p50 ÷ relay's", sprintf("%.2f×", p50[mp] / p50["relay"]), "≤ 1.2×", \
             p50[mp] / p50["relay"] <= 1.2)
        goal("ping-pong p99 ÷ relay's", sprintf("%.2f×", p99[mp] / p99["relay"]), "≤ 1.5×", \
             p99[mp] / p99["relay"] <= 1.5)
    }
    mem = median[mp SUBSEP "memory" SUBSEP "64" SUBSEP "1"]
    if (mem != "")
        goal("broker RSS per idle client", sprintf("%.0f B", mem), "≤ 1024 B", mem <= 1024)
    c = median[mp SUBSEP "connect" SUBSEP "64" SUBSEP "1"]
    cm = median["mqtt" SUBSEP "connect" SUBSEP "64" SUBSEP "1"]
    if (c > 0 && cm > 0)
        goal("connect+auth rate ÷ mosquitto's", sprintf("%.2f×", c / cm), "≥ 1.0×", c / cm >= 1)
    j = median["mp-json" tp "64" SUBSEP "1"]
    if (j > 0 && b64 > 0)
        goal("64 B, 1 pair: binary msgs/s ÷ JSON's", sprintf("%.2f×", b64 / j), "≤ 3×", b64 / j <= 3)

    print ""
    print "## Throughput"
    print ""
    print "Messages per second counted at the receivers: median (min–max), and the"
    print "ratio to mpbroker's."
    print ""
    print "| target | 64 B, 1 pair | | 64 B, 8 pairs | | 4 KiB, 1 pair | | 4 KiB, 8 pairs | |"
    print "|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (!(t in seen))
            continue
        line = "| " label(t)
        for (c = 1; c <= 4; c++) {
            split(cases[c], sp, " ")
            key = t tp sp[1] SUBSEP sp[2]
            line = line " | " cell(key) " | " ratio(median[key], median[mp tp sp[1] SUBSEP sp[2]])
        }
        print line " |"
    }
    print ""
    print "The same at 4 KiB in MB/s (10^6 bytes of payload per second):"
    print ""
    print "| target | 4 KiB, 1 pair | 4 KiB, 8 pairs |"
    print "|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (!(t in seen))
            continue
        printf "| %s | %.0f | %.0f |\n", label(t), median[t tp "4096" SUBSEP "1"] * 4096 / 1e6, \
            median[t tp "4096" SUBSEP "8"] * 4096 / 1e6
    }

    print ""
    print "Who was busy: CPU use of the server / of mpbench, in % of one core,"
    print "while measuring (each has a core of its own). A server below 100 %"
    print "next to mpbench at 100 % was not the limit: the generator was."
    print ""
    print "| target | 64 B, 1 pair | 64 B, 8 pairs | 4 KiB, 1 pair | 4 KiB, 8 pairs | connect |"
    print "|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        if (!(t in seen))
            continue
        line = "| " label(t)
        for (c = 1; c <= 4; c++) {
            split(cases[c], sp, " ")
            key = t tp sp[1] SUBSEP sp[2]
            line = line " | " ((key in cpu) ? cpu[key] : "-")
        }
        key = t SUBSEP "connect" SUBSEP "64" SUBSEP "1"
        print line " | " ((key in cpu) ? cpu[key] : "-") " |"
    }

    print ""
    print "## Latency"
    print ""
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
    print "Connections per second to the ready state (median, min–max), and the"
    print "server's RSS per idle ready client."
    print ""
    print "| target | connects/s | ratio | bytes per idle client | ratio |"
    print "|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        t = order[i]
        ck = t SUBSEP "connect" SUBSEP "64" SUBSEP "1"; mk = t SUBSEP "memory" SUBSEP "64" SUBSEP "1"
        if (!(ck in median) && !(mk in median))
            continue
        printf "| %s | %s | %s | %s | %s |\n", label(t), cell(ck), \
            ratio(median[ck], median[mp SUBSEP "connect" SUBSEP "64" SUBSEP "1"]), \
            (mk in median) ? sprintf("%.0f", median[mk]) : "-", \
            ratio(median[mk], median[mp SUBSEP "memory" SUBSEP "64" SUBSEP "1"])
    }
}
