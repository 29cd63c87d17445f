/*
 * histogram.h - a log-bucketed latency histogram.
 *
 * Values (nanoseconds) fall in buckets 1/32 of a power of two wide, so a
 * percentile is within about 3 % of the true value at any magnitude, in
 * a fixed 16 KiB and O(1) per sample. Plain value type: no ownership.
 */
#ifndef MPBENCH_HISTOGRAM_H
#define MPBENCH_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 5
#define HISTOGRAM_BUCKETS (64 << HISTOGRAM_SUB_BITS)

struct histogram {
    uint64_t count;
    uint64_t buckets[HISTOGRAM_BUCKETS];
};

void histogram_add(struct histogram *h, uint64_t value);

/* The value below which `fraction` (0..1) of the samples fall; 0 when
 * empty. */
uint64_t histogram_percentile(const struct histogram *h, double fraction);

#endif
