/* Unit tests: key=value log fields (common/log.c mp_log_value). */
#include "config.h"

#include <criterion/criterion.h>

#include "log.h"

static const char *value(const char *v)
{
    static char buf[64];

    return mp_log_value(buf, sizeof buf, v);
}

Test(log_value, plain_values_stay_as_they_are)
{
    cr_assert_str_eq(value("alice"), "alice");
    cr_assert_str_eq(value("tcp:127.0.0.1:7330"), "tcp:127.0.0.1:7330");
}

Test(log_value, others_are_quoted_and_escaped)
{
    cr_assert_str_eq(value(""), "\"\"");
    cr_assert_str_eq(value(NULL), "\"\"");
    cr_assert_str_eq(value("a b"), "\"a b\"");
    cr_assert_str_eq(value("k=v"), "\"k=v\"");
    cr_assert_str_eq(value("say \"hi\""), "\"say \\\"hi\\\"\"");
    cr_assert_str_eq(value("back\\slash"), "\"back\\\\slash\"");
    /* No client input starts a log line of its own. */
    cr_assert_str_eq(value("x\nerror: forged"), "\"x\\nerror: forged\"");
    cr_assert_str_eq(value("\x01\t\x7f"), "\"\\x01\\t\\x7f\"");
    cr_assert_str_eq(value("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

Test(log_value, long_values_are_cut_but_closed)
{
    char buf[16];
    const char *v = mp_log_value(buf, sizeof buf, "a long value with spaces");

    cr_assert_lt(strlen(v), sizeof buf);
    cr_assert_eq(v[0], '"');
    cr_assert_eq(v[strlen(v) - 1], '"');
}
