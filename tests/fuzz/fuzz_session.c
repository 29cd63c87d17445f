/*
 * fuzz_session.c - libFuzzer harness for a whole broker session: the input
 * is what one client sends on its socket, and the real broker code
 * (broker/libmpbroker.la, the shipped translator and auth_allow_all
 * plugins) handles it.
 *
 * Set up once: a broker made by broker_new() as main.c makes it, its
 * config and plugins loaded as main.c loads them, with small limits so
 * that they are reached, and listeners without sockets (listener_new:
 * auto, json, binary) that hand sessions socketpair ends instead of
 * accepted sockets.
 *
 * Per input, three clients on socketpairs:
 *  - "fuzz": the input's bytes after the first, written in pieces;
 *  - "alice", the victim: well-behaved and known by name, so the input can
 *    open connections to it (it acks every Syn and echoes Data) or take
 *    its name (duplicate_names = "replace");
 *  - the bystander: logged in under a name made from a hash of the input,
 *    which the input therefore cannot contain. It must receive nothing
 *    after its AuthOk and must not be closed: routing must never leak.
 * The loop runs (EVLOOP_NONBLOCK, bounded) until nothing moves; then the
 * fuzz socket is closed and every session must go away, and finally the
 * victim and the bystander leave and the broker must be empty again - so
 * memory cannot grow from input to input and LeakSanitizer sees every
 * leak at the first input that causes it.
 *
 * What each client receives is decoded with the codec of its format and
 * checked against what the protocol allows (see the on_* functions).
 *
 * The first input byte sets the scene:
 *   bits 0-1  the fuzz client's listener: 0 and 3 auto, 1 json, 2 binary
 *   bit 2     victim json and bystander binary, or the other way round
 *   bit 3     duplicate_names: 0 replace, 1 reject
 *   bits 4-6  write pieces: 0 all at once, k: 4^(k-1) bytes (1 .. 4096)
 *   bit 7     slow readers: the victim and the fuzz client read nothing
 *             until the input is written (output limits, backpressure,
 *             a client paused by its own output, slow clients dropped)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth_chain.h"
#include "auth_throttle.h"
#include "broker.h"
#include "codec.h"
#include "conn_table.h"
#include "errors.h"
#include "fuzz_plugins.h"
#include "fuzz_util.h"
#include "hashmap.h"
#include "listener.h"
#include "xalloc.h"
#include "log.h"
#include "message.h"
#include "session.h"
#include "stats.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VICTIM_NAME "alice"

/* Bounds on the loop: far above what any input needs, so that reaching
 * one means the broker stopped making progress. */
enum { IDLE_PUMPS = 3, MAX_PUMPS = 200000, MAX_STUCK_PUMPS = 2000 };

/* The harness's end of one client socket. */
struct client {
    const char *role;       /* for reports */
    char name[MP_NAME_MAX + 1];
    int fd;                 /* -1 once closed by the harness */
    const struct mp_codec_ops *codec; /* NULL: expects no bytes but the
                                         refusal line of an auto listener */
    bool refusal_seen;      /* got that line */
    void *stream;           /* decode stream for what the broker sends */
    struct fuzz_buf in, out;
    bool reading;           /* false: a slow client, the socket is left */
    bool eof;               /* the broker closed its end */
    bool authed;            /* got AuthOk */
    unsigned level;         /* the level its AuthOk said (1: no data) */
    bool auth_failed;       /* got AuthFailure */
    void (*on_message)(struct client *c, const struct mp_message *msg);
};

/* A connection id Syn'd to the victim (ids may hold any byte, NUL too). */
struct victim_conn {
    char id[MP_NAME_MAX];
    size_t len;
    bool live; /* no ConnClosed or NoSuchConnection on it since */
};

/* What the victim has seen of the fuzz client. */
struct victim_view {
    char peer[MP_NAME_MAX + 1]; /* the fuzz client's name, once known */
    size_t peer_len;
    bool peer_known;
    struct victim_conn *conns; /* ids Syn'd to it */
    size_t n_conns, cap_conns;
    unsigned client_closed;
};

static struct broker *broker;
static struct listener *fuzz_listeners[3]; /* auto, json, binary */
static struct listener *peer_listeners[2]; /* json, binary */
static const struct mp_codec_ops *codecs[2]; /* json, binary */
static char conf_path[300];

static struct client fuzz_client, victim, bystander;
static struct listener *victim_listener;
static struct victim_view view;

/* ------------------------------------------------------------------------
 * Broker set-up, once
 */

static void write_config(void)
{
    FILE *f = fuzz_temp_config("mpbroker-fuzz", conf_path, sizeof conf_path);

    fprintf(f,
            "plugin_dir = \"%s\";\n"
            "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n"
            "                { name = \"binary\"; module = \"translator_binary.so\"; } );\n"
            "authenticators = ( { module = \"auth_allow_all.so\"; } );\n"
            "listeners = ( { unix = \"/nonexistent/fuzz.sock\"; translator = \"auto\"; } );\n"
            /* Small limits, so that inputs of a few KiB reach them; no
             * auth timeout within a run (it would depend on the clock). */
            "limits = { max_message_size = 4096; auth_timeout_ms = 3600000;\n"
            "           max_clients = 16; max_connections_per_client = 8;\n"
            "           tcp_keepalive_s = 0; output_high_water = 2048;\n"
            "           output_low_water = 512; output_hard_limit = 6144; };\n"
            "log = { level = \"error\"; };\n",
            fuzz_plugin_dir());
    FUZZ_CHECK(fclose(f) == 0, "writing %s failed", conf_path);
}

/* A listener without a socket (listener_new): sessions are handed
 * socketpair ends instead of accepted sockets. */
static struct listener *fake_listener(const char *translator,
                                      const char *label)
{
    const struct loaded_plugin *t = NULL;
    struct listener *l;
    char full[64];

    if (translator != NULL) {
        t = plugins_translator(&broker->plugins, translator);
        FUZZ_CHECK(t != NULL, "no translator %s", translator);
    }
    snprintf(full, sizeof full, "fuzz:%s", label);
    l = listener_new(broker, t, full);
    listener_link(broker, l);
    return l;
}

/* MP_FUZZ_LOG=debug shows what the broker does with a reproducer. */
static void fuzz_log_level_from_env(void)
{
    const char *v = getenv("MP_FUZZ_LOG");
    enum mp_log_level level;

    if (v != NULL && mp_log_level_parse(v, &level) == 0)
        mp_log_set_level(level);
}

static void broker_teardown(void)
{
    broker_free(broker);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct plugin_services services;
    struct errors errs;

    (void)argc;
    (void)argv;
    /* The broker writes to sockets whose other end the harness closed. */
    signal(SIGPIPE, SIG_IGN);
    mp_log_set_level(MP_LOG_ERROR);
    FUZZ_CHECK(fuzz_pin_plugin("translator_json.so") == 0 &&
                   fuzz_pin_plugin("translator_binary.so") == 0 &&
                   fuzz_pin_plugin("auth_allow_all.so") == 0,
               "the plugins are needed");

    write_config();
    errors_init(&errs);
    mp_xalloc_install_for_libevent();
    broker = broker_new();
    FUZZ_CHECK(broker != NULL, "broker_new failed");
    services = auth_chain_services(broker->base);
    if (conf_load(&broker->conf, conf_path, fuzz_plugin_dir(), &errs) != 0 ||
        plugins_load(&broker->plugins, &broker->conf, &services,
                     &errs) != 0) {
        errors_print(&errs, stderr);
        FUZZ_CHECK(0, "broker set-up failed");
    }
    unlink(conf_path);
    errors_free(&errs);
    mp_log_set_level(broker->conf.log_level);
    fuzz_log_level_from_env();

    fuzz_listeners[0] = fake_listener(NULL, "auto");
    fuzz_listeners[1] = fake_listener("json", "json");
    fuzz_listeners[2] = fake_listener("binary", "binary");
    peer_listeners[0] = fake_listener("json", "peer-json");
    peer_listeners[1] = fake_listener("binary", "peer-binary");
    codecs[0] = &peer_listeners[0]->translator->codec;
    codecs[1] = &peer_listeners[1]->translator->codec;
    atexit(broker_teardown);
    return 0;
}

/* ------------------------------------------------------------------------
 * Clients
 */

static void client_send(struct client *c, const struct mp_message *msg)
{
    FUZZ_CHECK(c->codec->encode(NULL, msg, fuzz_buf_write, &c->out) == 0,
               "%s: cannot encode", c->role);
}

/* Start a session for a new client whose end is returned in c->fd. */
static void client_connect(struct client *c, const char *role,
                           const char *peer, struct listener *l,
                           const struct mp_codec_ops *codec,
                           void (*on_message)(struct client *,
                                              const struct mp_message *))
{
    int sv[2];

    memset(c, 0, sizeof *c);
    c->role = role;
    c->codec = codec;
    c->reading = true;
    c->on_message = on_message;
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          0, sv) == 0,
               "socketpair: %s", strerror(errno));
    c->fd = sv[1];
    /* A small socket buffer (the kernel's minimum, a few KiB): what a
     * client does not read piles up in the broker's output buffer, where
     * the output limits apply, instead of in the kernel. */
    FUZZ_CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 },
                          sizeof(int)) == 0,
               "SO_SNDBUF: %s", strerror(errno));
    if (codec != NULL && codec->stream_new != NULL)
        c->stream = codec->stream_new(NULL);
    /* session_new closes sv[0] itself when it fails. */
    FUZZ_CHECK(session_new(broker, l, sv[0], peer, NULL) != NULL,
               "session_new failed");
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static void client_free(struct client *c)
{
    client_close(c);
    if (c->codec != NULL && c->codec->stream_free != NULL)
        c->codec->stream_free(c->stream);
    fuzz_buf_free(&c->in);
    fuzz_buf_free(&c->out);
}

static void send_auth(struct client *c, const char *name)
{
    struct mp_message msg;

    memset(&msg, 0, sizeof msg);
    msg.meta = MP_META_AUTH;
    snprintf(c->name, sizeof c->name, "%s", name);
    mp_message_set_other_client(&msg, name, strlen(name));
    FUZZ_CHECK(mp_message_set_data(&msg, "pw", 2) == 0, "out of memory");
    client_send(c, &msg);
    mp_message_clear(&msg);
}

/* A client whose format an auto listener cannot tell gets one line of at
 * most 255 bytes naming the formats it speaks, then the close
 * (broker/session.c pick_translator, doc/protocol.md); nothing else. */
static void expect_refusal_line(struct client *c)
{
    static const char prefix[] =
        "mpbroker: unknown wire format; this listener speaks: ";
    size_t n = c->in.len < sizeof prefix - 1 ? c->in.len : sizeof prefix - 1;
    const unsigned char *nl = memchr(c->in.bytes, '\n', c->in.len);

    FUZZ_CHECK(!c->refusal_seen && memcmp(c->in.bytes, prefix, n) == 0,
               "%s: the broker sent %zu bytes to a client it should have "
               "closed at once after its refusal line", c->role, c->in.len);
    if (nl == NULL) {
        FUZZ_CHECK(c->in.len < 255, "%s: a refusal line over 255 bytes",
                   c->role);
        return;
    }
    FUZZ_CHECK((size_t)(nl - c->in.bytes) < 255,
               "%s: a refusal line over 255 bytes", c->role);
    c->refusal_seen = true;
    fuzz_buf_consume(&c->in, (size_t)(nl - c->in.bytes) + 1);
}

/* Decode and hand over every whole message in c->in. */
static void client_dispatch(struct client *c)
{
    while (c->in.len > 0) {
        struct mp_message msg;
        size_t consumed = 0;
        char err[200] = "";
        enum mp_decode_status st;

        if (c->codec == NULL) {
            size_t before = c->in.len;
            expect_refusal_line(c);
            if (c->in.len == before)
                return;
            continue;
        }
        memset(&msg, 0, sizeof msg);
        st = c->codec->decode(c->stream, c->in.bytes, c->in.len, SIZE_MAX,
                              &msg, &consumed, err, sizeof err);
        if (st == MP_DECODE_NEED_MORE)
            return;
        FUZZ_CHECK(st == MP_DECODE_OK, "%s: the broker sent bytes its own "
                   "format cannot decode: %s", c->role, err);
        fuzz_buf_consume(&c->in, consumed);
        if (msg.meta == MP_META_AUTH_OK) {
            FUZZ_CHECK(!c->authed && !c->auth_failed, "%s: a second AuthOk "
                       "or one after AuthFailure", c->role);
        } else if (msg.meta == MP_META_AUTH_FAILURE) {
            FUZZ_CHECK(!c->authed && !c->auth_failed, "%s: AuthFailure "
                       "after login or twice", c->role);
        } else {
            FUZZ_CHECK(c->authed, "%s: meta %u before AuthOk", c->role,
                       msg.meta);
        }
        c->on_message(c, &msg);
        c->authed |= msg.meta == MP_META_AUTH_OK;
        c->auth_failed |= msg.meta == MP_META_AUTH_FAILURE;
        mp_message_clear(&msg);
    }
}

/* Flush c->out and read what the broker sent. Returns bytes moved. */
static size_t client_io(struct client *c)
{
    size_t moved = 0;
    unsigned char buf[16384];
    ssize_t n;

    if (c->fd < 0)
        return 0;
    while (c->out.len > 0) {
        n = write(c->fd, c->out.bytes, c->out.len);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                c->out.len = 0; /* the broker closed it: drop the rest */
            break;
        }
        fuzz_buf_consume(&c->out, (size_t)n);
        moved += (size_t)n;
    }
    while (c->reading && !c->eof) {
        n = read(c->fd, buf, sizeof buf);
        if (n < 0) {
            FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK ||
                           errno == ECONNRESET,
                       "%s: read: %s", c->role, strerror(errno));
            if (errno == ECONNRESET)
                c->eof = true;
            break;
        }
        if (n == 0) {
            c->eof = true;
            moved++;
            break;
        }
        fuzz_buf_add(&c->in, buf, (size_t)n);
        moved += (size_t)n;
    }
    client_dispatch(c);
    return moved;
}

/* ------------------------------------------------------------------------
 * What each client may receive
 */

static void expect_auth_ok(struct client *c, const struct mp_message *msg)
{
    FUZZ_CHECK(msg->meta == MP_META_AUTH_OK &&
                   strcmp(msg->other_client, c->name) == 0,
               "%s: meta %u \"%s\" instead of its AuthOk", c->role, msg->meta,
               msg->other_client);
    /* It announced no level: the AuthOk of level 1, without data. */
    FUZZ_CHECK(!msg->has_data, "%s: a level-1 AuthOk with data", c->role);
}

/* The bystander shares nothing with anyone: its AuthOk, then silence. */
static void on_bystander(struct client *c, const struct mp_message *msg)
{
    if (!c->authed) {
        expect_auth_ok(c, msg);
        return;
    }
    fuzz_print_message("bystander got", msg);
    FUZZ_CHECK(0, "a message reached a client nobody addressed");
}

/*
 * The check of a known, reported broker bug can be turned off while it is
 * being fixed, to fuzz on: MP_FUZZ_IGNORE=too-slow (a comma-separated
 * list; see tests/fuzz/README.md and corpus/fuzz_session/crash-*).
 */
static bool ignored(const char *check)
{
    const char *list = getenv("MP_FUZZ_IGNORE");
    size_t n = strlen(check);

    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, check, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* "The broker never sends Level" (doc/protocol.md): a level belongs to
 * the Auth that announced it. */
static void check_no_level(const struct mp_message *msg)
{
    FUZZ_CHECK(msg->level == 0, "the broker sent Level %u (meta %u)",
               msg->level, msg->meta);
}

/* The level an AuthOk agrees: its data says "level=N ..." at level 2
 * and later, and a level-1 AuthOk has none (doc/protocol.md). */
static unsigned level_of_auth_ok(const struct mp_message *msg)
{
    static const char key[] = "level=";

    if (!msg->has_data)
        return 1;
    FUZZ_CHECK(msg->data_len > sizeof key - 1 &&
                   memcmp(msg->data, key, sizeof key - 1) == 0 &&
                   msg->data[sizeof key - 1] == '0' + MP_PROTOCOL_LEVEL,
               "an AuthOk with data that does not start level=%d",
               MP_PROTOCOL_LEVEL);
    return MP_PROTOCOL_LEVEL;
}

/* What the broker sends the fuzz client (the input may announce a
 * level at Auth): meta 0-10 at level 1, 0-18 at level 2, never a Level. */
static void on_fuzz(struct client *c, const struct mp_message *msg)
{
    unsigned max = c->level >= 2 ? MP_META_LEVEL2_MAX : MP_META_LEVEL1_MAX;

    if (msg->meta == MP_META_AUTH_OK)
        c->level = level_of_auth_ok(msg);
    FUZZ_CHECK(msg->meta <= max, "meta %u sent to a level-%u client",
               msg->meta, c->level ? c->level : 1);
    check_no_level(msg);
}

static struct victim_conn *view_find(const char *id, size_t len)
{
    for (size_t i = 0; i < view.n_conns; i++) {
        if (view.conns[i].len == len && memcmp(view.conns[i].id, id, len) == 0)
            return &view.conns[i];
    }
    return NULL;
}

static void view_syn(const struct mp_message *msg)
{
    struct victim_conn *c = view_find(msg->connection_id,
                                      msg->connection_id_len);

    if (c == NULL) {
        if (view.n_conns == view.cap_conns) {
            size_t cap = view.cap_conns ? view.cap_conns * 2 : 8;
            struct victim_conn *conns =
                realloc(view.conns, cap * sizeof *conns);
            FUZZ_CHECK(conns != NULL, "out of memory");
            view.conns = conns;
            view.cap_conns = cap;
        }
        c = &view.conns[view.n_conns++];
        memcpy(c->id, msg->connection_id, msg->connection_id_len);
        c->len = msg->connection_id_len;
    }
    c->live = true;
}

static bool view_any_live(void)
{
    for (size_t i = 0; i < view.n_conns; i++) {
        if (view.conns[i].live)
            return true;
    }
    return false;
}

/* Everything reaching the victim comes from the fuzz client, the one
 * other client that knows its name. */
static void check_from_fuzz(const struct mp_message *msg)
{
    if (!view.peer_known) {
        FUZZ_CHECK(msg->meta == MP_META_CONN_SYN,
                   "victim: meta %u before any Syn", msg->meta);
        memcpy(view.peer, msg->other_client, msg->other_client_len + 1);
        view.peer_len = msg->other_client_len;
        view.peer_known = true;
    }
    if (msg->other_client_len != view.peer_len ||
        memcmp(msg->other_client, view.peer, view.peer_len) != 0) {
        fuzz_print_message("victim got", msg);
        FUZZ_CHECK(0, "victim: a message from another client than \"%s\"",
                   view.peer);
    }
}

static void victim_reply(struct client *c, const struct mp_message *msg,
                         enum mp_meta meta)
{
    struct mp_message reply;

    memset(&reply, 0, sizeof reply);
    reply.meta = (uint8_t)meta;
    mp_message_set_other_client(&reply, msg->other_client,
                                msg->other_client_len);
    mp_message_set_connection_id(&reply, msg->connection_id,
                                 msg->connection_id_len);
    if (msg->has_data && meta == MP_META_DATA)
        FUZZ_CHECK(mp_message_set_data(&reply, msg->data, msg->data_len) == 0,
                   "out of memory");
    client_send(c, &reply);
    mp_message_clear(&reply);
}

/*
 * The victim acks every Syn and echoes Data. It never opens a connection,
 * so it may receive: Syn; Data, ConnClosed and NoSuchConnection on an id
 * Syn'd to it; one ClientClosed when the fuzz client leaves (required if
 * a connection was still live); after that only bounces of its own
 * replies (NoSuchConnection).
 */
static void on_victim(struct client *c, const struct mp_message *msg)
{
    struct victim_conn *conn;

    if (!c->authed) {
        expect_auth_ok(c, msg);
        return;
    }
    check_from_fuzz(msg);
    check_no_level(msg);
    if (view.client_closed > 0 && msg->meta != MP_META_NO_SUCH_CONNECTION) {
        fuzz_print_message("victim got", msg);
        FUZZ_CHECK(0, "victim: meta %u after ClientClosed", msg->meta);
    }
    conn = view_find(msg->connection_id, msg->connection_id_len);
    switch (msg->meta) {
    case MP_META_CONN_SYN:
        FUZZ_CHECK(msg->connection_id_len > view.peer_len &&
                       memcmp(msg->connection_id, view.peer,
                              view.peer_len) == 0 &&
                       msg->connection_id[view.peer_len] == ':',
                   "victim: a Syn whose id is not its sender's");
        view_syn(msg);
        victim_reply(c, msg, MP_META_CONN_ACK);
        break;
    case MP_META_DATA:
    case MP_META_CONN_CLOSED:
    case MP_META_NO_SUCH_CONNECTION:
        if (conn == NULL) {
            fuzz_print_message("victim got", msg);
            FUZZ_CHECK(0, "victim: meta %u on a connection never opened "
                          "to it", msg->meta);
        }
        if (msg->meta == MP_META_DATA)
            victim_reply(c, msg, MP_META_DATA);
        else
            conn->live = false;
        break;
    case MP_META_CLIENT_CLOSED:
        FUZZ_CHECK(msg->connection_id_len == 0 && !msg->has_data,
                   "victim: ClientClosed with an id or data");
        view.client_closed++;
        break;
    default:
        fuzz_print_message("victim got", msg);
        FUZZ_CHECK(0, "victim: meta %u is never sent to a client that "
                      "only answers", msg->meta);
    }
}

/* ------------------------------------------------------------------------
 * The loop
 */

/*
 * The victim's only sender is the fuzz client, which the broker pauses
 * once the victim's queue passes output_high_water; the config check
 * promises output_hard_limit >= output_high_water + max_message_size, room
 * for the message that crossed the mark. So the victim must never be
 * dropped as too slow, slow reader or not.
 */
static void check_victim_not_dropped(void)
{
    static int ignore = -1;
    const struct session *s;

    if (ignore < 0)
        ignore = ignored("too-slow");
    if (ignore)
        return;
    TAILQ_FOREACH(s, &broker->sessions, entry) {
        FUZZ_CHECK(!(s->listener == victim_listener && s->too_slow),
                   "the victim was dropped as too slow (output_high_water "
                   "%zu, output_hard_limit %zu, max_message_size %zu)",
                   broker->conf.output_high_water,
                   broker->conf.output_hard_limit,
                   broker->conf.max_message_size);
    }
}

/* One pass of the event loop, then every client's I/O. Returns whether
 * anything moved. EVLOOP_ONCE: without it, a nonblocking loop goes on
 * while callbacks keep activating events (a zero timer, the reaper), and
 * the state between two of its passes could not be checked. */
static bool pump(void)
{
    size_t moved = 0;

    event_base_loop(broker->base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
    check_victim_not_dropped();
    moved += client_io(&victim);
    moved += client_io(&bystander);
    moved += client_io(&fuzz_client);
    return moved > 0 ||
           event_base_get_num_events(broker->base, EVENT_BASE_COUNT_ACTIVE) > 0;
}

/* Run until nothing moves for a few passes. */
static void settle(const char *phase)
{
    unsigned idle = 0;

    for (unsigned i = 0; i < MAX_PUMPS; i++) {
        idle = pump() ? 0 : idle + 1;
        if (idle == IDLE_PUMPS)
            return;
    }
    FUZZ_CHECK(0, "%s: the broker never went idle", phase);
}

/* Write the input to the fuzz client's socket, `piece` bytes at a time,
 * running the loop after each piece. */
static void feed(const uint8_t *data, size_t size, size_t piece)
{
    size_t off = 0;
    unsigned stuck = 0;

    while (off < size) {
        size_t want = size - off < piece ? size - off : piece;
        ssize_t n = write(fuzz_client.fd, data + off, want);
        bool moved;

        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return; /* the broker closed the session: the rest is unread */
        if (n > 0)
            off += (size_t)n;
        moved = pump();
        if (n > 0 || moved) {
            stuck = 0;
            continue;
        }
        /* The broker is not reading: slow readers (the victim, or the
         * fuzz client itself) may hold the fuzz client paused, so let
         * them catch up; past that it is a hang. */
        if (++stuck == MAX_STUCK_PUMPS / 2)
            victim.reading = fuzz_client.reading = true;
        FUZZ_CHECK(stuck < MAX_STUCK_PUMPS,
                   "the broker stopped reading the fuzz client (%zu of %zu "
                   "bytes written)", off, size);
    }
}

static bool session_alive(struct listener *const *from, size_t n)
{
    const struct session *s;

    TAILQ_FOREACH(s, &broker->sessions, entry) {
        for (size_t i = 0; i < n; i++) {
            if (s->listener == from[i])
                return true;
        }
    }
    return false;
}

/* The codec the broker uses for the fuzz client, or NULL when an auto
 * listener must close it without a word. */
static const struct mp_codec_ops *fuzz_codec(unsigned mode,
                                             const uint8_t *payload,
                                             size_t size)
{
    struct listener *l = fuzz_listeners[mode];

    if (l->translator != NULL)
        return &l->translator->codec;
    for (size_t i = 0; i < 2 && size > 0; i++) {
        if (codecs[i]->sniff(payload, size) == 1)
            return codecs[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * One input
 */

static void start_peers(uint8_t scene, const uint8_t *data, size_t size)
{
    unsigned v = scene >> 2 & 1, b = v ^ 1;
    char name[32];

    /* A name the input cannot contain: it is a hash of the input. */
    snprintf(name, sizeof name, "by%016llx",
             (unsigned long long)fuzz_hash(data, size));
    victim_listener = peer_listeners[v];
    client_connect(&victim, "victim", "192.0.2.2:4242", victim_listener,
                   codecs[v], on_victim);
    client_connect(&bystander, "bystander", "unix", peer_listeners[b],
                   codecs[b], on_bystander);
    send_auth(&victim, VICTIM_NAME);
    send_auth(&bystander, name);
    for (unsigned i = 0; i < MAX_PUMPS && !(victim.authed && bystander.authed);
         i++)
        pump();
    FUZZ_CHECK(victim.authed && bystander.authed, "the peers did not log in");
}

static void end_checks(void)
{
    /* The fuzz client left: its session must be gone, and a victim that
     * still shared a connection with it must have been told. */
    FUZZ_CHECK(!session_alive(fuzz_listeners, 3),
               "the fuzz client's session outlived its socket");
    if (!victim.eof && view_any_live())
        FUZZ_CHECK(view.client_closed == 1,
                   "victim: %u ClientClosed for a client it shared a "
                   "connection with", view.client_closed);
    FUZZ_CHECK(view.client_closed <= 1, "victim: %u ClientClosed",
               view.client_closed);
    FUZZ_CHECK(!bystander.eof, "the bystander was disconnected");
}

static void finish(void)
{
    client_close(&victim);
    client_close(&bystander);
    settle("closing the peers");
    FUZZ_CHECK(TAILQ_EMPTY(&broker->sessions) && broker->n_sessions == 0 &&
                   SLIST_EMPTY(&broker->dead),
               "%zu sessions left after every client left",
               broker->n_sessions);
    FUZZ_CHECK(hashmap_count(broker->names) == 0, "%zu names left",
               hashmap_count(broker->names));
    FUZZ_CHECK(conn_table_count(broker->conns) == 0, "%zu connections left",
               conn_table_count(broker->conns));
    auth_throttle_free(broker->auth_throttle);
    broker->auth_throttle = NULL;
    client_free(&fuzz_client);
    client_free(&victim);
    client_free(&bystander);
    free(view.conns);
    memset(&view, 0, sizeof view);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t scene;
    unsigned mode, piece_sel;
    size_t piece;
    struct auth_throttle_limits throttle;

    if (size == 0)
        return 0;
    scene = data[0];
    mode = scene & 3;
    if (mode == 3)
        mode = 0;
    piece_sel = scene >> 4 & 7;
    piece = piece_sel == 0 ? size : (size_t)1 << (2 * (piece_sel - 1));
    broker->conf.duplicate_names =
        scene & 8 ? DUPLICATE_REJECT : DUPLICATE_REPLACE;
    /* Failed logins are counted per address across sessions: a fresh
     * count for each input, or an input's outcome would depend on the
     * ones before it. */
    conf_throttle_limits(&broker->conf, &throttle);
    broker->auth_throttle = auth_throttle_new(&throttle);
    FUZZ_CHECK(broker->auth_throttle != NULL, "out of memory");

    start_peers(scene, data, size);
    client_connect(&fuzz_client, "fuzz", "192.0.2.1:4242",
                   fuzz_listeners[mode],
                   fuzz_codec(mode, data + 1, size - 1), on_fuzz);
    victim.reading = fuzz_client.reading = !(scene & 0x80);
    feed(data + 1, size - 1, piece);
    victim.reading = fuzz_client.reading = true;
    settle("after the input");

    client_close(&fuzz_client);
    settle("after the fuzz client left");
    end_checks();
    finish();
    return 0;
}
