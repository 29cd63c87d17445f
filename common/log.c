/* log.c - "LEVEL: message" lines on stderr (see log.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static enum mp_log_level current_level = MP_LOG_INFO;

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

void mp_vlog(enum mp_log_level level, const char *fmt, va_list ap)
{
    char line[1024];

    if (level > current_level)
        return;
    vsnprintf(line, sizeof line, fmt, ap);
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
