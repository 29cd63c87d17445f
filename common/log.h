/*
 * log.h - the broker's logger: one line per event, filtered by a global
 * level, on stderr as "LEVEL: message" (what systemd's journal wants: it
 * stamps each line itself), "TIMESTAMP LEVEL: message" when stderr is
 * anything else (a terminal, a file, a pipe to another collector), or,
 * when asked, to syslog(3) with the matching priority.
 *
 * Not thread-safe by design: the broker has one thread.
 */
#ifndef MP_COMMON_LOG_H
#define MP_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <mp/plugin.h> /* enum mp_log_level */

/* Messages above `level` are dropped. Default MP_LOG_INFO. */
void mp_log_set_level(enum mp_log_level level);

/* Parse "error", "warning", "notice", "info", "debug". Return 0 or -1. */
int mp_log_level_parse(const char *s, enum mp_log_level *out);
const char *mp_log_level_name(enum mp_log_level level);

/* Send lines to syslog(3) with `facility` (LOG_DAEMON, ...) and the
 * identity "mpbroker", instead of stderr. */
void mp_log_to_syslog(int facility);
/* Back to stderr (closes the syslog connection if open). */
void mp_log_to_stderr(void);

/*
 * Timestamps on stderr lines: off by default (a library's choice); the
 * broker turns them on unless stderr is the journal. The stamp is local
 * time with its UTC offset and milliseconds, RFC 3339:
 * "2026-12-02T14:45:01.123+01:00" - what a reader compares with other
 * logs of the machine, and unambiguous across time zones and DST.
 */
void mp_log_set_timestamps(bool on);

/*
 * Is fd the journal's stream? systemd sets $JOURNAL_STREAM to
 * "DEVICE:INODE" of the stream it connects stdout/stderr to
 * (systemd.exec(5)); the variable is inherited by children whose stderr
 * may be something else, so it counts only when fd is that same file
 * (fstat(2) device and inode equal). journal_stream is the variable's
 * value, or NULL when unset.
 */
bool mp_log_fd_is_journal(const char *journal_stream, int fd);

/* Write the stamp of *ts (CLOCK_REALTIME) to buf; returns buf ("" if
 * len is too small, at least MP_LOG_TIMESTAMP_MAX fits any). */
#define MP_LOG_TIMESTAMP_MAX 40
const char *mp_log_timestamp(char *buf, size_t len,
                             const struct timespec *ts);

/* "daemon", "user", "auth", "local0".."local7" -> LOG_*; 0 or -1 if
 * unknown. */
int mp_log_facility_parse(const char *s, int *out);

/*
 * A value for a key=value field of a log line: as is when it is made of
 * printable ASCII other than space, quote, backslash and '='; otherwise in
 * double quotes, with \\, \", \n, \t and \xNN escapes, so that no client
 * input can start a line of its own or forge a field. Written to
 * buf[0..len) (cut to fit); returns buf.
 */
const char *mp_log_value(char *buf, size_t len, const char *value);

/* One field buffer per use: LOG_VALUE(v) in a log_*() argument list. */
#define MP_LOG_VALUE_MAX 600
#define LOG_VALUE(v) mp_log_value((char[MP_LOG_VALUE_MAX]){0}, MP_LOG_VALUE_MAX, (v))

void mp_log(enum mp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mp_vlog(enum mp_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define log_error(...) mp_log(MP_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) mp_log(MP_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) mp_log(MP_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) mp_log(MP_LOG_INFO, __VA_ARGS__)
#define log_debug(...) mp_log(MP_LOG_DEBUG, __VA_ARGS__)

#endif
