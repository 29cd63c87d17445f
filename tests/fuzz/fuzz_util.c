/* fuzz_util.c - helpers shared by the harnesses (see fuzz_util.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

void fuzz_fail(const char *file, int line, const char *cond,
               const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "\n%s:%d: check failed: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void fuzz_buf_add(struct fuzz_buf *b, const void *bytes, size_t len)
{
    if (len == 0)
        return;
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < len)
            cap *= 2;
        unsigned char *p = realloc(b->bytes, cap);
        FUZZ_CHECK(p != NULL, "out of memory (%zu bytes)", cap);
        b->bytes = p;
        b->cap = cap;
    }
    memcpy(b->bytes + b->len, bytes, len);
    b->len += len;
}

void fuzz_buf_consume(struct fuzz_buf *b, size_t n)
{
    FUZZ_CHECK(n <= b->len, "consume %zu of %zu bytes", n, b->len);
    memmove(b->bytes, b->bytes + n, b->len - n);
    b->len -= n;
}

void fuzz_buf_free(struct fuzz_buf *b)
{
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

int fuzz_buf_write(void *ctx, const void *bytes, size_t len)
{
    fuzz_buf_add(ctx, bytes, len);
    return 0;
}

void fuzz_check_message(const struct mp_message *msg, const char *what)
{
    FUZZ_CHECK(msg->other_client[msg->other_client_len] == '\0',
               "%s: other_client not NUL-terminated at its length", what);
    FUZZ_CHECK(msg->connection_id[msg->connection_id_len] == '\0',
               "%s: connection_id not NUL-terminated at its length", what);
    if (!msg->has_data)
        FUZZ_CHECK(msg->data == NULL && msg->data_len == 0,
                   "%s: absent data with a buffer or a length", what);
    else if (msg->data_len > 0)
        FUZZ_CHECK(msg->data != NULL, "%s: %zu bytes of data, no buffer",
                   what, msg->data_len);
}

bool fuzz_message_equal(const struct mp_message *a,
                        const struct mp_message *b)
{
    return a->meta == b->meta && a->level == b->level &&
           a->other_client_len == b->other_client_len &&
           memcmp(a->other_client, b->other_client, a->other_client_len) == 0 &&
           a->connection_id_len == b->connection_id_len &&
           memcmp(a->connection_id, b->connection_id,
                  a->connection_id_len) == 0 &&
           a->has_data == b->has_data && a->data_len == b->data_len &&
           (a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}

static void print_bytes(const char *label, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;

    fprintf(stderr, " %s[%zu]=\"", label, len);
    for (size_t i = 0; i < len && i < 64; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            fputc(p[i], stderr);
        else
            fprintf(stderr, "\\x%02x", p[i]);
    }
    fprintf(stderr, "%s\"", len > 64 ? "..." : "");
}

void fuzz_print_message(const char *label, const struct mp_message *msg)
{
    fprintf(stderr, "%s: meta=%u level=%u", label, msg->meta, msg->level);
    print_bytes("other_client", msg->other_client, msg->other_client_len);
    print_bytes("connection_id", msg->connection_id, msg->connection_id_len);
    if (msg->has_data)
        print_bytes("data", msg->data, msg->data_len);
    else
        fprintf(stderr, " data=null");
    fputc('\n', stderr);
}

uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325u;

    for (size_t i = 0; i < size; i++) {
        h ^= data[i];
        h *= 0x100000001b3u;
    }
    return h;
}

void fuzz_write_file(const char *path, const void *bytes, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *p = bytes;

    FUZZ_CHECK(fd >= 0, "cannot create %s: %s", path, strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        FUZZ_CHECK(n > 0, "cannot write %s: %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}

FILE *fuzz_temp_config(const char *name, char *path, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    FILE *f;
    int fd;

    snprintf(path, len, "%s/%s-XXXXXX.conf",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", name);
    fd = mkstemps(path, 5);
    FUZZ_CHECK(fd >= 0, "mkstemps %s: %s", path, strerror(errno));
    f = fdopen(fd, "w");
    FUZZ_CHECK(f != NULL, "fdopen: %s", strerror(errno));
    return f;
}
