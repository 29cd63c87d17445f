/*
 * errors.h - a list of configuration errors, each "FILE:LINE: message",
 * collected while checking a config so that every error is reported at
 * once (as `smtpd -n` does) rather than the first one only.
 */
#ifndef MP_BROKER_ERRORS_H
#define MP_BROKER_ERRORS_H

#include <stddef.h>
#include <stdio.h>

struct errors {
    char **lines; /* owned, each malloc'ed */
    size_t count;
    size_t cap;
    size_t unrecorded; /* errors printed at once for lack of memory */
};

void errors_init(struct errors *errs);
void errors_free(struct errors *errs);

/* Add "FILE:LINE: message" ("FILE: message" when line <= 0, "message"
 * when file is NULL). On allocation failure the error is printed to stderr
 * at once rather than lost, and counted. */
void errors_add(struct errors *errs, const char *file, int line,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Were any errors added? */
int errors_any(const struct errors *errs);

/* Print each error on its own line. */
void errors_print(const struct errors *errs, FILE *out);

#endif
