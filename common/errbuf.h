/*
 * errbuf.h - report an error into a caller's buffer, the way every
 * function here that can fail does (no printing, no global state).
 */
#ifndef MP_COMMON_ERRBUF_H
#define MP_COMMON_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* printf-style into err[0..errlen), always NUL-terminated; a NULL err or
 * a zero errlen is allowed and ignored. */
void mp_set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void mp_vset_error(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
