/* log.c - "LEVEL: message" lines on stderr (see log.h). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static enum mp_log_level current_level = MP_LOG_INFO;
static bool to_syslog;

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

enum mp_log_level mp_log_get_level(void)
{
    return current_level;
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
    fprintf(stderr, "%s: %s\n", mp_log_level_name(level), line);
}

void mp_log(enum mp_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mp_vlog(level, fmt, ap);
    va_end(ap);
}
