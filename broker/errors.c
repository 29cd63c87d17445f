/* errors.c - collected configuration errors (see errors.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "errors.h"

void errors_init(struct errors *errs)
{
    errs->lines = NULL;
    errs->count = 0;
    errs->cap = 0;
    errs->unrecorded = 0;
}

int errors_any(const struct errors *errs)
{
    return errs->count > 0 || errs->unrecorded > 0;
}

void errors_free(struct errors *errs)
{
    for (size_t i = 0; i < errs->count; i++)
        free(errs->lines[i]);
    free(errs->lines);
    errors_init(errs);
}

static char *format_error(const char *file, int line, const char *fmt,
                          va_list ap)
{
    char message[768];
    char *out = NULL;
    int n;

    vsnprintf(message, sizeof message, fmt, ap);
    if (file == NULL)
        n = asprintf(&out, "%s", message);
    else if (line <= 0)
        n = asprintf(&out, "%s: %s", file, message);
    else
        n = asprintf(&out, "%s:%d: %s", file, line, message);
    return n < 0 ? NULL : out;
}

void errors_add(struct errors *errs, const char *file, int line,
                const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    text = format_error(file, line, fmt, ap);
    va_end(ap);
    if (errs->count == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        char **lines = realloc(errs->lines, cap * sizeof *lines);
        if (lines != NULL) {
            errs->lines = lines;
            errs->cap = cap;
        }
    }
    if (text == NULL || errs->count == errs->cap) {
        fprintf(stderr, "%s\n", text ? text : "out of memory");
        free(text);
        errs->unrecorded++;
        return;
    }
    errs->lines[errs->count++] = text;
}

void errors_print(const struct errors *errs, FILE *out)
{
    for (size_t i = 0; i < errs->count; i++)
        fprintf(out, "%s\n", errs->lines[i]);
}
