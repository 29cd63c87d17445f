/*
 * link_handshake.c - the handshake every link stream starts with
 * (link_frame.h has the frames and what each MAC covers):
 *
 *   acceptor                                 dialer
 *   HELLO_CHALLENGE(version, own id, nonce) ->
 *                                            checks the version and that
 *                                            the id is the one it dialed
 *                                         <- HELLO(ids, host, port, nonce,
 *                                                  mac)
 *   checks the mac (CRYPTO_memcmp), that it
 *   was the id meant, and joins the stream
 *   to the dialer's peer (dialing back)
 *   HELLO_OK(mac)                          ->
 *                                            checks the mac: OPEN
 *
 * Both MACs are HMAC-SHA256 under the shared secret over both nonces
 * (fresh from RAND_bytes on each side), so neither side can replay an
 * old exchange and the secret never crosses the wire. Any failure is a
 * refusal: REFUSED with the reason, one log line, the socket closed.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "link-internal.h"
#include "log.h"

static const char HELLO_LABEL[] = "mp-link-hello";
static const char OK_LABEL[] = "mp-link-ok";

/* The bytes a MAC covers, end to end. */
struct mac_input {
    unsigned char bytes[sizeof HELLO_LABEL + 2 * LINK_NONCE_LEN +
                        3 * (1 + MP_NAME_MAX) + 2];
    size_t len;
};

static void add(struct mac_input *in, const void *p, size_t n)
{
    /* Sized for the largest input: a label, two nonces, three strings
     * and a port. */
    memcpy(in->bytes + in->len, p, n);
    in->len += n;
}

static void mac_of(const struct link_set *ls, const struct mac_input *in,
                   unsigned char mac[LINK_MAC_LEN])
{
    unsigned len = LINK_MAC_LEN;

    if (HMAC(EVP_sha256(), ls->secret, (int)ls->conf.secret_len, in->bytes,
             in->len, mac, &len) == NULL)
        memset(mac, 0, LINK_MAC_LEN); /* never matches a peer's */
}

/* A string as the frame carries it: its length byte, then its bytes
 * (so that "ab" "c" and "a" "bc" are not the same input). */
static void add_str(struct mac_input *in, struct link_str s)
{
    unsigned char len = (unsigned char)s.len;

    add(in, &len, 1);
    add(in, s.ptr, s.len);
}

/* HMAC(secret, "mp-link-hello" || challenge nonce || hello nonce ||
 * dialer_id || acceptor_id || host || port), strings with their length
 * byte: the address the acceptor dials back is covered too, so nobody
 * in between can send it elsewhere. */
static void hello_mac(const struct link_set *ls, const unsigned char *challenge,
                      const struct link_frame *hello,
                      unsigned char mac[LINK_MAC_LEN])
{
    struct mac_input in = {.len = 0};
    unsigned char port[2] = {(unsigned char)(hello->u.hello.port >> 8),
                             (unsigned char)hello->u.hello.port};

    add(&in, HELLO_LABEL, strlen(HELLO_LABEL));
    add(&in, challenge, LINK_NONCE_LEN);
    add(&in, hello->u.hello.nonce, LINK_NONCE_LEN);
    add_str(&in, hello->u.hello.dialer_id);
    add_str(&in, hello->u.hello.acceptor_id);
    add_str(&in, hello->u.hello.host);
    add(&in, port, sizeof port);
    mac_of(ls, &in, mac);
}

/* HMAC(secret, "mp-link-ok" || hello nonce || challenge nonce) */
static void ok_mac(const struct link_set *ls, const unsigned char *hello,
                   const unsigned char *challenge,
                   unsigned char mac[LINK_MAC_LEN])
{
    struct mac_input in = {.len = 0};

    add(&in, OK_LABEL, strlen(OK_LABEL));
    add(&in, hello, LINK_NONCE_LEN);
    add(&in, challenge, LINK_NONCE_LEN);
    mac_of(ls, &in, mac);
}

static bool fresh_nonce(unsigned char nonce[LINK_NONCE_LEN])
{
    return RAND_bytes(nonce, LINK_NONCE_LEN) == 1;
}

static struct link_str str_of(const char *s)
{
    return (struct link_str){s, strlen(s)};
}

static bool str_is(struct link_str a, const char *b)
{
    return a.len == strlen(b) && memcmp(a.ptr, b, a.len) == 0;
}

/* ------------------------------------------------------------------------
 * The acceptor's side
 */

void link_handshake_start(struct link_stream *s)
{
    struct link_set *ls = s->ls;
    struct link_frame f = {.type = LINK_HELLO_CHALLENGE};

    if (ls->id[0] == '\0') {
        link_stream_refuse(s, "this broker is not registered yet");
        return;
    }
    if (!fresh_nonce(s->nonce)) {
        link_stream_refuse(s, "no random bytes for a nonce");
        return;
    }
    f.u.challenge.version = LINK_PROTOCOL_VERSION;
    f.u.challenge.acceptor_id = str_of(ls->id);
    memcpy(f.u.challenge.nonce, s->nonce, LINK_NONCE_LEN);
    link_stream_queue_frame(s, &f);
}

/* Why a proven HELLO still cannot have a link, or NULL. */
static const char *hello_unfit(const struct link_set *ls,
                               const struct link_frame *f)
{
    if (!str_is(f->u.hello.acceptor_id, ls->id))
        return "it meant to reach another broker id (this one restarted?)";
    if (f->u.hello.dialer_id.len == 0)
        return "an empty broker id";
    if (str_is(f->u.hello.dialer_id, ls->id))
        return "a link to itself";
    if (f->u.hello.host.len == 0 || f->u.hello.host.len >= LINK_ADDR_MAX ||
        f->u.hello.port == 0)
        return "no address to dial back";
    return NULL;
}

/* The stream is proven: it joins the dialer's peer, made (and dialed
 * back) if there is none. A peer that already reads a stream from that
 * id is stale: the other side dialed again, so it dropped its end. */
static void join_peer(struct link_stream *s, const struct link_frame *f)
{
    struct link_set *ls = s->ls;
    struct link_str id = f->u.hello.dialer_id;
    char host[LINK_ADDR_MAX];
    struct link_peer *p;

    snprintf(host, sizeof host, "%.*s", (int)f->u.hello.host.len,
             f->u.hello.host.ptr);
    {
        char idz[MP_NAME_MAX + 1];
        snprintf(idz, sizeof idz, "%.*s", (int)id.len, id.ptr);
        p = link_peer_find(ls, idz);
    }
    if (p != NULL && p->in != NULL) {
        link_peer_down(p, "it dialed again: its previous link is gone");
        p = NULL;
    }
    if (s->state == STREAM_CLOSED)
        return; /* the down handler changed our id or dropped everything */
    TAILQ_REMOVE(&ls->orphans, s, entry);
    ls->n_orphans--;
    if (p == NULL) {
        p = link_peer_new(ls, id.ptr, id.len, host, f->u.hello.port);
        link_stream_dial(p);
    }
    s->peer = p;
    p->in = s;
}

static void on_hello(struct link_stream *s, const struct link_frame *f)
{
    struct link_set *ls = s->ls;
    struct link_frame ok = {.type = LINK_HELLO_OK};
    unsigned char mac[LINK_MAC_LEN];
    const char *unfit;

    hello_mac(ls, s->nonce, f, mac);
    if (CRYPTO_memcmp(mac, f->u.hello.mac, LINK_MAC_LEN) != 0) {
        link_stream_refuse(s, "bad MAC (not the cluster's secret)");
        return;
    }
    unfit = hello_unfit(ls, f);
    if (unfit != NULL) {
        link_stream_refuse(s, unfit);
        return;
    }
    memcpy(s->their_nonce, f->u.hello.nonce, LINK_NONCE_LEN);
    ok_mac(ls, s->their_nonce, s->nonce, ok.u.hello_ok.mac);
    join_peer(s, f);
    if (s->state == STREAM_CLOSED)
        return;
    link_stream_queue_frame(s, &ok);
    s->state = STREAM_OPEN;
    event_del(s->timer);
    /* Its frames wait until the peer is up (link_stream_resume_input). */
    event_del(s->read_ev);
    link_peer_check_up(s->peer);
}

/* ------------------------------------------------------------------------
 * The dialer's side
 */

static void on_challenge(struct link_stream *s, const struct link_frame *f)
{
    struct link_set *ls = s->ls;
    struct link_peer *p = s->peer;
    struct link_frame h = {.type = LINK_HELLO};
    char why[96];

    if (f->u.challenge.version != LINK_PROTOCOL_VERSION) {
        snprintf(why, sizeof why, "protocol version %u, this broker speaks %d",
                 f->u.challenge.version, LINK_PROTOCOL_VERSION);
        link_stream_refuse(s, why);
        return;
    }
    if (ls->id[0] == '\0') {
        link_stream_refuse(s, "this broker is not registered yet");
        return;
    }
    if (!str_is(f->u.challenge.acceptor_id, p->id)) {
        link_stream_refuse(s, "another broker id answers at that address");
        return;
    }
    if (!fresh_nonce(s->nonce)) {
        link_stream_refuse(s, "no random bytes for a nonce");
        return;
    }
    memcpy(s->their_nonce, f->u.challenge.nonce, LINK_NONCE_LEN);
    h.u.hello.dialer_id = str_of(ls->id);
    h.u.hello.acceptor_id = str_of(p->id);
    h.u.hello.host = str_of(ls->conf.advertise);
    h.u.hello.port = (uint16_t)(ls->conf.advertise_port != 0
                                    ? ls->conf.advertise_port : ls->port);
    memcpy(h.u.hello.nonce, s->nonce, LINK_NONCE_LEN);
    hello_mac(ls, s->their_nonce, &h, h.u.hello.mac);
    link_stream_queue_frame(s, &h);
    s->state = STREAM_WAIT_OK;
}

static void on_hello_ok(struct link_stream *s, const struct link_frame *f)
{
    unsigned char mac[LINK_MAC_LEN];

    ok_mac(s->ls, s->nonce, s->their_nonce, mac);
    if (CRYPTO_memcmp(mac, f->u.hello_ok.mac, LINK_MAC_LEN) != 0) {
        link_stream_refuse(s, "bad MAC (not the cluster's secret)");
        return;
    }
    s->state = STREAM_OPEN;
    event_del(s->timer);
    link_peer_check_up(s->peer);
}

/* ------------------------------------------------------------------------
 * Dispatch by state
 */

/* The reason comes from the other end, maybe a stranger: quoted for
 * the log line it ends up in. */
static void on_refused(struct link_stream *s, const struct link_frame *f)
{
    char reason[MP_NAME_MAX + 1], quoted[MP_LOG_VALUE_MAX], why[MP_LOG_VALUE_MAX + 32];

    snprintf(reason, sizeof reason, "%.*s", (int)f->u.refused.reason.len,
             f->u.refused.reason.ptr);
    snprintf(why, sizeof why, "refused by the peer: %s",
             mp_log_value(quoted, sizeof quoted, reason));
    link_stream_failed(s, why);
}

void link_handshake_frame(struct link_stream *s, const struct link_frame *f)
{
    static const enum link_frame_type expected[] = {
        [STREAM_WAIT_CHALLENGE] = LINK_HELLO_CHALLENGE,
        [STREAM_WAIT_OK] = LINK_HELLO_OK,
        [STREAM_WAIT_HELLO] = LINK_HELLO,
    };
    char why[96];

    if (f->type == LINK_REFUSED) {
        on_refused(s, f);
        return;
    }
    if (s->state >= sizeof expected / sizeof expected[0] ||
        expected[s->state] != f->type || f->type == 0) {
        snprintf(why, sizeof why, "frame type %d out of the handshake",
                 (int)f->type);
        link_stream_refuse(s, why);
        return;
    }
    if (f->type == LINK_HELLO_CHALLENGE)
        on_challenge(s, f);
    else if (f->type == LINK_HELLO)
        on_hello(s, f);
    else
        on_hello_ok(s, f);
}
