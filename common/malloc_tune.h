/*
 * malloc_tune.h - keep glibc's malloc from returning memory to the kernel
 * after every burst.
 *
 * A reader that reserves 64 KiB, parses it and frees it leaves a free
 * chunk at the top of the heap; glibc gives the top back (brk) once it
 * passes M_TRIM_THRESHOLD (128 KiB by default, raised only by its dynamic
 * heuristic), and the next read takes it back with page faults. Measured
 * on the broker at 4 KiB messages: a brk per wake-up, and a fifth of the
 * broker's time in page faults and TLB flushes. A server keeps its heap
 * instead, up to a bound.
 */
#ifndef MP_COMMON_MALLOC_TUNE_H
#define MP_COMMON_MALLOC_TUNE_H

/* Call once, first thing in main(). Does nothing where mallopt() is
 * missing, or where the user tuned malloc through the environment
 * (GLIBC_TUNABLES naming malloc, MALLOC_TRIM_THRESHOLD_,
 * MALLOC_MMAP_THRESHOLD_): they know better. */
void mp_tune_malloc(void);

#endif
