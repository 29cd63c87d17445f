/* Unit tests: key=value log fields (common/log.c mp_log_value), and when
 * and how stderr lines are stamped. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

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

/* ---------------------------------------------------------------------- */
/* Timestamps on stderr unless it is the journal ($JOURNAL_STREAM). */

static char *stream_of(int fd)
{
    static char buf[64];
    struct stat st;

    cr_assert_eq(fstat(fd, &st), 0);
    snprintf(buf, sizeof buf, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    return buf;
}

Test(log_journal, the_stream_systemd_named_is_the_journal)
{
    FILE *f = tmpfile();

    cr_assert_not_null(f);
    cr_assert(mp_log_fd_is_journal(stream_of(fileno(f)), fileno(f)));
    fclose(f);
}

Test(log_journal, another_file_is_not)
{
    FILE *journal = tmpfile(), *other = tmpfile();
    char named[64];

    cr_assert_not_null(journal);
    cr_assert_not_null(other);
    snprintf(named, sizeof named, "%s", stream_of(fileno(journal)));
    /* Inherited by a child whose stderr went elsewhere: not the journal. */
    cr_assert_not(mp_log_fd_is_journal(named, fileno(other)));
    fclose(journal);
    fclose(other);
}

Test(log_journal, unset_or_malformed_is_not)
{
    FILE *f = tmpfile();
    char named[64], bad[80];
    const char *const variants[] = { "", ":", "12", "12:", ":34", "x:1",
                                     " 1:2", "1:2 ", "1:2:3", "-1:2" };

    cr_assert_not_null(f);
    snprintf(named, sizeof named, "%s", stream_of(fileno(f)));
    cr_assert_not(mp_log_fd_is_journal(NULL, fileno(f)));
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        cr_assert_not(mp_log_fd_is_journal(variants[i], fileno(f)), "%s",
                      variants[i]);
    /* The right numbers with trailing junk. */
    snprintf(bad, sizeof bad, "%sx", named);
    cr_assert_not(mp_log_fd_is_journal(bad, fileno(f)));
    /* A closed descriptor is nobody's journal. */
    cr_assert_not(mp_log_fd_is_journal(named, 1000));
    fclose(f);
}

Test(log_timestamp, rfc3339_local_time_with_offset)
{
    struct timespec ts = { .tv_sec = 1796220301, .tv_nsec = 123456789 };
    char buf[MP_LOG_TIMESTAMP_MAX];

    setenv("TZ", "UTC", 1);
    tzset();
    cr_assert_str_eq(mp_log_timestamp(buf, sizeof buf, &ts),
                     "2026-12-02T14:05:01.123+00:00");
    setenv("TZ", "CET-1", 1);
    tzset();
    cr_assert_str_eq(mp_log_timestamp(buf, sizeof buf, &ts),
                     "2026-12-02T15:05:01.123+01:00");
    setenv("TZ", "IST-5:30", 1);
    tzset();
    cr_assert_str_eq(mp_log_timestamp(buf, sizeof buf, &ts),
                     "2026-12-02T19:35:01.123+05:30");
    setenv("TZ", "EST+5", 1);
    tzset();
    cr_assert_str_eq(mp_log_timestamp(buf, sizeof buf, &ts),
                     "2026-12-02T09:05:01.123-05:00");
    /* Too small a buffer: empty, never cut. */
    cr_assert_str_eq(mp_log_timestamp(buf, 10, &ts), "");
}
