# bench/: mpbench, the load generator, and relay, the one-hop baseline.
# Built by `make`, never installed; `make bench` runs the comparison
# (bench/compare.sh), rewrites bench/RESULTS.md and draws its charts,
# bench/throughput.svg and bench/latency.svg (gnuplot, bench/charts.gp).
# BENCH_FLAGS passes options on, e.g. `make bench BENCH_FLAGS="--duration
# 0.5 --reps 1"` for a quick look or `--baseline-dir ../other/_build`.
noinst_PROGRAMS += bench/mpbench bench/relay
bench_mpbench_SOURCES = bench/mpbench.c bench/driver.h \
	bench/histogram.c bench/histogram.h \
	bench/driver_mp.c bench/driver_nats.c bench/driver_mqtt.c \
	bench/driver_redis.c bench/driver_relay.c \
	common/malloc_tune.c common/malloc_tune.h
bench_mpbench_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
bench_mpbench_LDADD = common/libmpcommon.la $(LIBEVENT_LIBS)

bench_relay_SOURCES = bench/relay.c common/read_batch.c common/read_batch.h \
	common/malloc_tune.c common/malloc_tune.h
bench_relay_CPPFLAGS = $(AM_CPPFLAGS)
bench_relay_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
bench_relay_LDADD = $(LIBEVENT_LIBS)

EXTRA_DIST += bench/compare.sh bench/results.awk bench/charts.gp bench/profiles.md bench/RESULTS.md \
	bench/throughput.svg bench/latency.svg

.PHONY: bench
bench: bench/mpbench bench/relay broker/mpbroker $(pkglib_LTLIBRARIES)
	sh $(srcdir)/bench/compare.sh --build-dir . --results $(srcdir)/bench/RESULTS.md $(BENCH_FLAGS)
