/*
 * Unit tests: the broker's memory-failure policy (broker/xalloc.h): an
 * allocation that cannot be satisfied aborts, after one log line,
 * instead of returning NULL to code that would have to guess.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "xalloc.h"

Test(xalloc, allocations_are_usable)
{
    char *s = mp_xstrdup("broker");
    int *v = mp_xcalloc(4, sizeof *v);

    cr_assert_str_eq(s, "broker");
    cr_assert_eq(v[3], 0);
    v = mp_xreallocarray(v, 1024, sizeof *v);
    v[1023] = 7;
    free(v);
    free(s);
}

Test(xalloc, zero_sizes_are_not_failures)
{
    free(mp_xmalloc(0));
    free(mp_xcalloc(0, 8));
    free(mp_xreallocarray(NULL, 0, 8));
}

Test(xalloc, an_overflowing_size_aborts, .signal = SIGABRT)
{
    mp_xreallocarray(NULL, SIZE_MAX / 2, 4);
}

Test(xalloc, an_overflowing_calloc_aborts, .signal = SIGABRT)
{
    mp_xcalloc(SIZE_MAX / 2, 4);
}

Test(xalloc, out_of_memory_aborts, .signal = SIGABRT)
{
    mp_out_of_memory("a test", 42);
}
