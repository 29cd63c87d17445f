/* errbuf.c - errors into a caller's buffer (see errbuf.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "codec.h"
#include "errbuf.h"

void mp_set_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mp_vset_error(err, errlen, fmt, ap);
    va_end(ap);
}

void mp_vset_error(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err != NULL && errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
}

enum mp_decode_status mp_decode_fail(char *err, size_t errlen,
                                     const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mp_vset_error(err, errlen, fmt, ap);
    va_end(ap);
    return MP_DECODE_ERROR;
}
