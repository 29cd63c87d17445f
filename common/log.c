/* log.c - "LEVEL: message" lines on stderr (see log.h). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "log.h"

static enum mp_log_level current_level = MP_LOG_INFO;
static bool to_syslog;
static bool timestamps;

/* Our levels are syslog's, one to one. */
static const int syslog_priorities[] = {
    [MP_LOG_ERROR] = LOG_ERR,
    [MP_LOG_WARNING] = LOG_WARNING,
    [MP_LOG_NOTICE] = LOG_NOTICE,
    [MP_LOG_INFO] = LOG_INFO,
    [MP_LOG_DEBUG] = LOG_DEBUG,
};

static const struct {
    const char *name;
    int facility;
} facilities[] = {
    {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"auth", LOG_AUTH},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

int mp_log_facility_parse(const char *s, int *out)
{
    for (size_t i = 0; i < sizeof facilities / sizeof facilities[0]; i++) {
        if (strcmp(s, facilities[i].name) == 0) {
            *out = facilities[i].facility;
            return 0;
        }
    }
    return -1;
}

void mp_log_to_syslog(int facility)
{
    /* LOG_NDELAY: connect now, before a chroot or privilege drop could
     * make /dev/log unreachable. */
    openlog("mpbroker", LOG_PID | LOG_NDELAY, facility);
    to_syslog = true;
}

void mp_log_to_stderr(void)
{
    if (to_syslog)
        closelog();
    to_syslog = false;
}

void mp_log_set_timestamps(bool on)
{
    timestamps = on;
}

bool mp_log_fd_is_journal(const char *journal_stream, int fd)
{
    unsigned long long dev, ino;
    struct stat st;
    char *end;

    if (journal_stream == NULL || fstat(fd, &st) != 0)
        return false;
    /* Two decimal numbers, "DEVICE:INODE", nothing around them. */
    if (journal_stream[0] < '0' || journal_stream[0] > '9')
        return false;
    dev = strtoull(journal_stream, &end, 10);
    if (*end != ':' || end[1] < '0' || end[1] > '9')
        return false;
    ino = strtoull(end + 1, &end, 10);
    if (*end != '\0')
        return false;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

const char *mp_log_timestamp(char *buf, size_t len, const struct timespec *ts)
{
    struct tm tm;
    char date[32];
    long off_min;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (localtime_r(&ts->tv_sec, &tm) == NULL ||
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return buf;
    off_min = tm.tm_gmtoff / 60;
    if ((size_t)snprintf(buf, len, "%s.%03ld%c%02ld:%02ld", date,
                         ts->tv_nsec / 1000000, off_min < 0 ? '-' : '+',
                         labs(off_min) / 60, labs(off_min) % 60) >= len)
        buf[0] = '\0';
    return buf;
}

static const char *const level_names[] = {
    [MP_LOG_ERROR] = "error",
    [MP_LOG_WARNING] = "warning",
    [MP_LOG_NOTICE] = "notice",
    [MP_LOG_INFO] = "info",
    [MP_LOG_DEBUG] = "debug",
};

void mp_log_set_level(enum mp_log_level level)
{
    current_level = level;
}

int mp_log_level_parse(const char *s, enum mp_log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum mp_log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *mp_log_level_name(enum mp_log_level level)
{
    if ((size_t)level < sizeof level_names / sizeof level_names[0])
        return level_names[level];
    return "?";
}

static bool plain_char(unsigned char c)
{
    return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

const char *mp_log_value(char *buf, size_t len, const char *value)
{
    const unsigned char *p = (const unsigned char *)(value ? value : "");
    bool plain = *p != '\0';
    size_t n = 0;

    for (const unsigned char *q = p; *q != '\0' && plain; q++)
        plain = plain_char(*q);
    if (plain) {
        snprintf(buf, len, "%s", (const char *)p);
        return buf;
    }
    /* Room for the closing quote and NUL, and the longest escape. */
    if (len < 8) {
        if (len > 0)
            buf[0] = '\0';
        return buf;
    }
    buf[n++] = '"';
    for (; *p != '\0' && n + 6 < len; p++) {
        if (*p == '"' || *p == '\\')
            n += (size_t)snprintf(buf + n, len - n, "\\%c", *p);
        else if (*p == '\n')
            n += (size_t)snprintf(buf + n, len - n, "\\n");
        else if (*p == '\t')
            n += (size_t)snprintf(buf + n, len - n, "\\t");
        else if (*p < ' ' || *p == 0x7f)
            n += (size_t)snprintf(buf + n, len - n, "\\x%02x", *p);
        else
            buf[n++] = (char)*p; /* UTF-8 bytes pass: the log is UTF-8 */
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

void mp_vlog(enum mp_log_level level, const char *fmt, va_list ap)
{
    char line[1024];

    if (level > current_level)
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    if (to_syslog) {
        syslog(syslog_priorities[level], "%s", line);
        return;
    }
    /* One fprintf per line so concurrent writers to a shared stderr (tests
     * reading the log) never see half lines. */
    if (timestamps) {
        char stamp[MP_LOG_TIMESTAMP_MAX];
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now);
        fprintf(stderr, "%s %s: %s\n",
                mp_log_timestamp(stamp, sizeof stamp, &now),
                mp_log_level_name(level), line);
        return;
    }
    fprintf(stderr, "%s: %s\n", mp_log_level_name(level), line);
}

void mp_log(enum mp_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mp_vlog(level, fmt, ap);
    va_end(ap);
}
