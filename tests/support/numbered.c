/* numbered.c - see numbered.h. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "numbered.h"
#include "rawclient.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

size_t data_frame(unsigned char *buf, const char *to, const char *id,
                  uint32_t seq, size_t data_len)
{
    size_t name_len = strlen(to), id_len = strlen(id);
    size_t body = 4 + name_len + id_len + data_len;
    unsigned char *p = buf;

    *p++ = (unsigned char)(body >> 24);
    *p++ = (unsigned char)(body >> 16);
    *p++ = (unsigned char)(body >> 8);
    *p++ = (unsigned char)body;
    *p++ = RC_DATA;
    *p++ = RC_FLAG_HAS_DATA;
    *p++ = (unsigned char)name_len;
    *p++ = (unsigned char)id_len;
    memcpy(p, to, name_len);
    p += name_len;
    memcpy(p, id, id_len);
    p += id_len;
    memset(p, 'x', data_len);
    p[0] = (unsigned char)(seq >> 24);
    p[1] = (unsigned char)(seq >> 16);
    p[2] = (unsigned char)(seq >> 8);
    p[3] = (unsigned char)seq;
    return 4 + body;
}

bool blast(struct blaster *b)
{
    while (b->next < b->total) {
        if (b->offset == 0)
            b->frame_len = data_frame(b->frame, b->to, b->id, b->next,
                                      b->data_len);
        ssize_t n = write(b->fd, b->frame + b->offset, b->frame_len - b->offset);
        if (n < 0) {
            cr_assert(errno == EAGAIN || errno == EWOULDBLOCK,
                      "sender write: %s", strerror(errno));
            return false;
        }
        b->offset += (size_t)n;
        if (b->offset == b->frame_len) {
            b->offset = 0;
            b->next++;
        }
    }
    return true;
}

void blast_until_paused(struct blaster *b)
{
    long long deadline = mpt_now_ms() + mpt_ms(20000);

    for (;;) {
        struct pollfd p = {.fd = b->fd, .events = POLLOUT};
        cr_assert(!blast(b), "all %u frames went out: nothing paused the "
                             "sender", b->total);
        if (poll(&p, 1, 300) == 0)
            return;
        cr_assert_lt(mpt_now_ms(), deadline, "the sender never blocked");
    }
}

bool read_frames(struct reader *r, const char *from)
{
    ssize_t n = 1;
    size_t pos = 0;

    /* Fill the buffer (a full buffer is parsed below, then read again). */
    while (r->len < r->cap &&
           (n = read(r->fd, r->buf + r->len, r->cap - r->len)) > 0)
        r->len += (size_t)n;
    if (n == 0 || (n < 0 && errno == ECONNRESET))
        r->eof = true;
    else if (n < 0)
        cr_assert(errno == EAGAIN || errno == EWOULDBLOCK,
                  "receiver read: %s", strerror(errno));
    while (r->len - pos >= 4) {
        const unsigned char *f = r->buf + pos;
        size_t body = be32(f);
        if (r->len - pos < 4 + body)
            break;
        cr_assert_eq(f[4], RC_DATA, "frame %u: meta %u", r->received, f[4]);
        cr_assert(f[6] == strlen(from) && memcmp(f + 8, from, f[6]) == 0,
                  "frame %u: other_client is not %s", r->received, from);
        uint32_t seq = be32(f + 8 + f[6] + f[7]);
        cr_assert_eq(seq, r->received, "message %u arrived as number %u",
                     seq, r->received);
        r->received++;
        pos += 4 + body;
    }
    memmove(r->buf, r->buf + pos, r->len - pos);
    r->len -= pos;
    return !r->eof;
}
