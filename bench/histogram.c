/* histogram.c - see histogram.h. */
#include "histogram.h"

enum { SUB = 1 << HISTOGRAM_SUB_BITS };

/* Values below SUB have a bucket each; above, the bucket is the position
 * of the top bit and the HISTOGRAM_SUB_BITS bits below it. */
static unsigned bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = top - HISTOGRAM_SUB_BITS;
    return (shift + 1) * SUB + (unsigned)((v >> shift) & (SUB - 1));
}

/* The middle of a bucket's range. */
static uint64_t value_of(unsigned bucket)
{
    if (bucket < SUB)
        return bucket;
    unsigned shift = bucket / SUB - 1;
    uint64_t low = ((uint64_t)SUB + bucket % SUB) << shift;
    return low + (((uint64_t)1 << shift) >> 1);
}

void histogram_add(struct histogram *h, uint64_t value)
{
    h->buckets[bucket_of(value)]++;
    h->count++;
}

uint64_t histogram_percentile(const struct histogram *h, double fraction)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(fraction * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HISTOGRAM_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen > rank)
            return value_of(b);
    }
    return value_of(HISTOGRAM_BUCKETS - 1);
}
