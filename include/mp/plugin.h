/*
 * mp/plugin.h - the mpbroker plugin ABI.
 *
 * A plugin is a shared object that exports one function, mp_plugin_entry(),
 * returning a pointer to a static struct mp_plugin. The broker dlopen()s the
 * modules its config file names, checks the ABI version, calls init() once
 * with the plugin's options, and cleanup() once at exit.
 *
 * Rules that keep plugins built today working tomorrow:
 *  - every struct the broker hands out starts with its size (or is opaque);
 *    new members are only ever appended, and a plugin must not read past
 *    the size it was given;
 *  - every struct a plugin hands the broker carries `abi` or `size` and
 *    reserved members that must be zero/NULL; the broker reads an ops
 *    table only up to its `size`, copying it at load time into a
 *    zero-filled table of its own, so an operation that the plugin's
 *    (older) header did not have is simply absent;
 *  - no libevent or libconfig type crosses this boundary: a plugin builds
 *    against this header and mp/protocol.h alone.
 *
 * Threading: every callback below is called from the broker's event loop
 * thread, and every host function must be called from that thread only.
 * The one exception is the work() function a plugin hands to
 * host->run_blocking(): it runs on a broker worker thread (see there).
 *
 * A minimal authenticator:
 *
 *     static enum mp_auth_result
 *     authenticate(void *state, const struct mp_auth_request *req,
 *                  struct mp_auth_ticket *ticket, char *reason, size_t len)
 *     {
 *         return req->secret_len > 0 ? MP_AUTH_ALLOW : MP_AUTH_DEFER;
 *     }
 *     static const struct mp_auth_ops ops = {
 *         .size = sizeof ops, .authenticate = authenticate,
 *     };
 *     static const struct mp_plugin plugin = {
 *         .abi = MP_PLUGIN_ABI, .kind = MP_PLUGIN_AUTHENTICATOR,
 *         .name = "nonempty", .version = "1.0", .auth = &ops,
 *     };
 *     MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
 *     { return &plugin; }
 *
 * An authorizer differs in its kind and its table: it decides on
 * connections only (here: nobody opens "shell") and is listed under
 * `authenticators` in the config file, next to a real authenticator:
 *
 *     static enum mp_auth_result
 *     authorize_syn(void *state, const char *from, const char *to,
 *                   const unsigned char *protocol, size_t len)
 *     {
 *         return len == 5 && memcmp(protocol, "shell", 5) == 0
 *                    ? MP_AUTH_DENY : MP_AUTH_DEFER;
 *     }
 *     static const struct mp_authz_ops authz = {
 *         .size = sizeof authz, .authorize_syn = authorize_syn,
 *     };
 *     static const struct mp_plugin plugin = {
 *         .abi = MP_PLUGIN_ABI, .kind = MP_PLUGIN_AUTHORIZER,
 *         .name = "noshell", .version = "1.0", .authz = &authz,
 *     };
 */
#ifndef MP_PLUGIN_H
#define MP_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>

#include <mp/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; the broker refuses other versions. */
#define MP_PLUGIN_ABI 1

/* The symbol every plugin exports. */
#define MP_PLUGIN_ENTRY_SYMBOL "mp_plugin_entry"

#if defined(__GNUC__)
#define MP_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define MP_PLUGIN_EXPORT
#endif

/*
 * What a plugin is, which says in which config list it may appear and
 * which operations it must have. Each capability has its own ops table in
 * the descriptor (auth, authz, codec), so a plugin offers exactly the
 * callbacks it implements:
 *  - AUTHENTICATOR: decides logins (`auth`, with authenticate()); may also
 *    authorize connections (`authz`);
 *  - AUTHORIZER (mpbroker 0.2): decides connections only (`authz`, with
 *    authorize_syn()) and takes no part in logins. It is listed under
 *    `authenticators` in the config file, like authenticators, so that
 *    access plugins keep one list in one order;
 *  - TRANSLATOR: a wire format (`codec`), listed under `translators`.
 * A broker of 0.1 refuses an AUTHORIZER as "not an authenticator plugin".
 */
enum mp_plugin_kind {
    MP_PLUGIN_AUTHENTICATOR = 1,
    MP_PLUGIN_TRANSLATOR = 2,
    MP_PLUGIN_AUTHORIZER = 3,
};

enum mp_log_level {
    MP_LOG_ERROR = 0,
    MP_LOG_WARNING = 1,
    MP_LOG_NOTICE = 2,
    MP_LOG_INFO = 3,
    MP_LOG_DEBUG = 4,
};

/* ------------------------------------------------------------------------
 * Options: the plugin's `options = { ... }` group from the config file.
 *
 * Accessors return 1 when the key is present with the requested type
 * (storing the value), 0 when the key is absent (leaving *out untouched, so
 * preset defaults survive), and -1 when it is present with another type
 * (the broker has then already reported "FILE:LINE: options.KEY: expected
 * a string" and will refuse to start; init() should fail too).
 *
 * The broker reports every key the plugin never asked for as an unknown
 * setting, so a typo in the config file cannot go unnoticed.
 *
 * Strings returned are owned by the broker and valid only until init()
 * returns: copy what you keep.
 */
struct mp_options; /* opaque */

/* ------------------------------------------------------------------------
 * Asynchronous authentication: a ticket stands for one pending request.
 * It is opaque to the plugin and valid from the moment authenticate()
 * returns MP_AUTH_PENDING until the plugin calls host->auth_done() on it or
 * the broker calls ops->cancel() on it, whichever happens first.
 */
struct mp_auth_ticket;

enum mp_auth_result {
    MP_AUTH_ALLOW = 0,   /* let the client in; the chain stops */
    MP_AUTH_DENY = 1,    /* refuse it; the chain stops */
    MP_AUTH_DEFER = 2,   /* no opinion: ask the next authenticator */
    MP_AUTH_PENDING = 3, /* will answer later through host->auth_done() */
};

/* A one-shot timer owned by the broker (see host->timer_start). */
struct mp_timer;

/*
 * What the broker offers a plugin. Passed to init(); valid until cleanup()
 * returns, so a plugin may keep the pointer in its state.
 */
struct mp_host {
    unsigned abi;  /* MP_PLUGIN_ABI of the running broker */
    size_t size;   /* sizeof(struct mp_host) in the running broker */

    /* Log a line through the broker's logger, prefixed with the plugin's
     * name. `fmt` is printf-style. Never log secrets. */
    void (*log)(const struct mp_host *host, enum mp_log_level level,
                const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Option accessors (see above). `key` is a plain setting name. */
    int (*option_string)(const struct mp_options *opts, const char *key,
                         const char **out);
    int (*option_int)(const struct mp_options *opts, const char *key,
                      long long *out);
    int (*option_bool)(const struct mp_options *opts, const char *key,
                       int *out);

    /*
     * Complete a pending authentication. `result` is MP_AUTH_ALLOW,
     * MP_AUTH_DENY or MP_AUTH_DEFER (the chain goes on to the next
     * authenticator). `reason` (may be NULL) is a short text sent to a
     * denied client; it is copied. The ticket is invalid once this
     * returns. Must not be called from inside authenticate().
     */
    void (*auth_done)(struct mp_auth_ticket *ticket,
                      enum mp_auth_result result, const char *reason);

    /*
     * Start a one-shot timer: cb(arg) runs on the event loop after `ms`
     * milliseconds. The returned timer is freed by the broker right after
     * cb returns, or by timer_cancel() if that comes first. Returns NULL
     * on allocation failure.
     */
    struct mp_timer *(*timer_start)(const struct mp_host *host, unsigned ms,
                                    void (*cb)(void *arg), void *arg);
    void (*timer_cancel)(struct mp_timer *timer);

    /*
     * Optional (mpbroker 0.2, in place of a reserved member: a 0.1
     * broker leaves it NULL, so test it before use). Run the blocking part
     * of a login - hashing a password, a blocking lookup - off the event
     * loop: work(arg) runs on one of the broker's worker threads, then
     * done(arg, cancelled) runs on the loop thread.
     *
     * Call it from authenticate() for `ticket` and return MP_AUTH_PENDING
     * (or later, while the ticket is pending); one job per ticket at a time.
     * Returns 0 when queued; then done() is called exactly once, and:
     *  - cancelled == 0: the ticket is still pending; done() must answer it
     *    with auth_done() (or start another job);
     *  - cancelled != 0: the client left (or the broker reloads or exits):
     *    the ticket is gone; done() only frees arg. work() may or may not
     *    have run. The broker waits for such jobs before cleanup().
     * Returns 1 when the broker is busy (its queue of logins waiting for a
     * worker is full, or this client's source has its share of it queued):
     * refuse the login with a reason such as "busy, try later". Returns -1
     * on other errors (out of memory, a job already running for the
     * ticket). done() is not called after 1 or -1.
     *
     * work() runs concurrently with the loop thread and other work()s: it
     * may read data the plugin does not change while jobs run (keep such
     * data alive until done()), must use thread-safe calls (crypt_r, not
     * crypt), and must call no host function.
     */
    int (*run_blocking)(struct mp_auth_ticket *ticket,
                        void (*work)(void *arg),
                        void (*done)(void *arg, int cancelled), void *arg);

    void *reserved[7];
};

/* ------------------------------------------------------------------------
 * Authenticators
 */

/*
 * One login attempt. Every pointer is owned by the broker and valid only
 * during the authenticate() call: an asynchronous plugin copies what it
 * needs before returning MP_AUTH_PENDING.
 */
struct mp_auth_request {
    size_t size;                  /* sizeof(struct mp_auth_request) */
    const char *name;             /* NUL-terminated, already checked */
    size_t name_len;
    const unsigned char *secret;  /* may hold any bytes, NUL included */
    size_t secret_len;
    const char *peer;             /* "192.0.2.1:4242", "[::1]:4242",
                                     "unix(uid=1000)" ("unix" when the
                                     kernel does not tell the uid) */
    const char *listener;         /* "tcp:127.0.0.1:7330", "unix:/path" */
    const char *format;           /* translator name of the session */
    unsigned level;               /* protocol level the client announced */
    /* On a TLS listener whose client presented a certificate that verified
     * against the listener's CA: its subject as RFC 2253 text
     * ("CN=alice,O=Example") and its common name (UTF-8; NULL if the
     * subject has no CN, several, or one containing a NUL byte). Both NULL
     * otherwise. (Added in mpbroker 0.2 in place of reserved members, so
     * a broker of 0.1 passes NULL.) */
    const char *tls_subject;
    const char *tls_common_name;
    void *reserved[4];
};

struct mp_auth_ops {
    size_t size; /* sizeof(struct mp_auth_ops) the plugin was built with */

    /*
     * Decide on a login. Return ALLOW, DENY or DEFER at once, or PENDING and
     * later call host->auth_done(ticket, ...). On DENY, the plugin may write
     * a short NUL-terminated reason for the client into reason[0..len).
     */
    enum mp_auth_result (*authenticate)(void *state,
                                        const struct mp_auth_request *req,
                                        struct mp_auth_ticket *ticket,
                                        char *reason, size_t reason_len);

    /* Optional. The client of a PENDING ticket went away: forget the ticket
     * and do not call auth_done() on it. */
    void (*cancel)(void *state, struct mp_auth_ticket *ticket);

    /*
     * Optional, and superseded: authorize_syn() of struct mp_authz_ops,
     * kept here, with the same meaning, for authenticators built before
     * that table existed. A plugin sets one or the other, not both; new
     * plugins set `authz` in the descriptor.
     */
    enum mp_auth_result (*authorize_syn)(void *state, const char *from,
                                         const char *to,
                                         const unsigned char *protocol,
                                         size_t protocol_len);

    void *reserved[6];
};

/* ------------------------------------------------------------------------
 * Authorizers (mpbroker 0.2): decisions on connections, not on logins.
 */
struct mp_authz_ops {
    size_t size; /* sizeof(struct mp_authz_ops) the plugin was built with */

    /*
     * May `from` open a connection for `protocol` (not NUL-terminated:
     * protocol_len bytes) to `to`? Asked for every ConnSyn, before the
     * target is looked up, of every plugin that has it, in config order,
     * until one answers DENY. ALLOW or DEFER let it through (ALLOW does
     * not overrule a later DENY), DENY refuses it as an unknown protocol.
     * PENDING is not allowed here. Runs on every Syn: do not block.
     */
    enum mp_auth_result (*authorize_syn)(void *state, const char *from,
                                         const char *to,
                                         const unsigned char *protocol,
                                         size_t protocol_len);

    /*
     * Optional (mpbroker 0.3, in place of a reserved member: a 0.2 broker
     * never calls it). May `client` learn whether `name` is online
     * (protocol level 2 presence: Watch, List; doc/protocol.md)? Both are
     * NUL-terminated names; `name` need not be online. Asked of every
     * plugin that has authorize_syn, in config order, until one answers
     * DENY: ALLOW or DEFER let it through. A plugin that has
     * authorize_syn but not authorize_see hides every name (the broker
     * cannot tell whom its rules let `client` connect to), so an
     * authorizer built before 0.3 fails closed. Runs for every name a
     * List or a presence notice concerns: do not block, do not allocate.
     */
    enum mp_auth_result (*authorize_see)(void *state, const char *client,
                                         const char *name);

    void *reserved[6];
};

/* ------------------------------------------------------------------------
 * Translators (wire formats)
 */

enum mp_decode_status {
    MP_DECODE_NEED_MORE = 0, /* not a whole message yet; call again later */
    MP_DECODE_OK = 1,        /* one message decoded, *consumed bytes used */
    MP_DECODE_ERROR = -1,    /* malformed input; err holds the reason */
};

/* Where an encoder writes. Returns 0, or -1 if the bytes could not be
 * queued (the encoder then returns -1 too). */
typedef int (*mp_write_fn)(void *ctx, const void *bytes, size_t len);

struct mp_codec_ops {
    size_t size; /* sizeof(struct mp_codec_ops) the plugin was built with */

    /*
     * Optional, for listeners with translator "auto": does a stream that
     * starts with buf[0..len) (len >= 1) speak this format? Returns 1 yes,
     * 0 no, -1 cannot tell yet.
     */
    int (*sniff)(const unsigned char *buf, size_t len);

    /*
     * Optional per-stream state, one per direction of each socket (formats
     * such as gob keep type definitions per stream). stream_new() returns
     * NULL on allocation failure; a codec without state leaves both NULL
     * and receives NULL streams.
     */
    void *(*stream_new)(void *plugin_state);
    void (*stream_free)(void *stream);

    /*
     * Decode the first message of buf[0..len), the bytes buffered so far
     * on the stream. On MP_DECODE_OK, `msg` (zeroed by the caller) is
     * filled - its data malloc()ed, owned by the caller afterwards - and
     * *consumed is the number of bytes used. A message whose encoding is
     * longer than `max_size` bytes is an error, reported as soon as that
     * is known (before it is all buffered). On error, the NUL-terminated
     * reason is written to err[0..errlen) and msg holds no allocation.
     * The decoder must never read beyond buf[len-1].
     */
    enum mp_decode_status (*decode)(void *stream, const unsigned char *buf,
                                    size_t len, size_t max_size,
                                    struct mp_message *msg, size_t *consumed,
                                    char *err, size_t errlen);

    /* Encode `msg` (not modified) through write(ctx, ...). Returns 0, or -1
     * if a write failed or the message cannot be represented. */
    int (*encode)(void *stream, const struct mp_message *msg,
                  mp_write_fn write, void *ctx);

    /*
     * Optional (mpbroker 0.2, in place of reserved members: a 0.1 broker
     * leaves them alone), both or neither (the broker uses neither when a
     * plugin sets only one): a fast lane for
     * messages between two clients of this format, whose data the broker
     * passes on as it came instead of decoding and encoding it again.
     *
     * decode_wire() reads the first message of buf[0..len) as decode()
     * would, but leaves the data where it is: msg->data stays NULL,
     * msg->has_data is set, msg->data_len is the length the data has
     * decoded (0 when absent), and buf[*wire_off .. *wire_off +
     * *wire_len) is the data in this format's own form (binary: the
     * bytes; JSON: the base64 text). (mpbroker 0.3 needs that length for
     * per-connection credit: it calls decode_wire() with msg->data_len
     * set to SIZE_MAX, and does not use the fast lane of a plugin that
     * leaves it there, as one built for 0.2 does.) It returns 1 when it did so, and 0, msg untouched,
     * for anything it does not take: an incomplete or invalid message, a
     * form it does not handle. The host then calls decode() on the same
     * bytes, which alone reports errors; so decode_wire() must never
     * accept what decode() refuses, nor read it differently. It may keep
     * state in the stream that decode() shares (a scan position), as long
     * as decode() goes on correctly from it.
     *
     * encode_wire() writes what encode() would write for msg with the
     * decoded data in place of msg->data, byte for byte, taking the data
     * in its wire form wire[0..wire_len) as decode_wire() found it.
     */
    int (*decode_wire)(void *stream, const unsigned char *buf, size_t len,
                       size_t max_size, struct mp_message *msg,
                       size_t *consumed, size_t *wire_off, size_t *wire_len);
    int (*encode_wire)(void *stream, const struct mp_message *msg,
                       const unsigned char *wire, size_t wire_len,
                       mp_write_fn write, void *ctx);

    /*
     * Optional (in place of a reserved member), and used only with the
     * two above: the data in wire form wire[0..wire_len), as
     * decode_wire() found it, decoded into msg->data (replacing what it
     * held), as decode() would have decoded it. Called only for a
     * message that has data (msg->has_data). Returns 0, or -1 (out of
     * memory). The broker uses it when a message read through the fast
     * lane goes to a client of another format, so that its envelope is
     * not parsed twice; without it, such a message is decoded again in
     * full.
     */
    int (*wire_data)(const unsigned char *wire, size_t wire_len,
                     struct mp_message *msg);

    void *reserved[3];
};

/* ------------------------------------------------------------------------
 * The descriptor
 */
struct mp_plugin {
    unsigned abi;             /* MP_PLUGIN_ABI the plugin was built with */
    enum mp_plugin_kind kind;
    const char *name;         /* short name for logs, e.g. "auth_passwd" */
    const char *version;      /* the plugin's own version string */

    /*
     * Optional. Called once before any other callback. On success returns
     * 0 and may set *state (passed back to every callback; NULL is fine).
     * On failure returns -1 with a NUL-terminated message in err[0..errlen)
     * (the broker prefixes the config file and line) and the broker does
     * not start. `host` stays valid until cleanup() returns.
     */
    int (*init)(const struct mp_host *host, const struct mp_options *opts,
                void **state, char *err, size_t errlen);

    /* Optional. Called once at exit, after the last other callback. */
    void (*cleanup)(void *state);

    const struct mp_auth_ops *auth;   /* when kind == MP_PLUGIN_AUTHENTICATOR */
    const struct mp_codec_ops *codec; /* when kind == MP_PLUGIN_TRANSLATOR */

    /*
     * Optional (mpbroker 0.2, in place of a reserved member: a 0.1 broker
     * never calls it). The broker got SIGHUP: re-read the files the plugin
     * loaded at init() (rules, user lists). Return 0 once the new data is
     * in use, or -1 with a NUL-terminated message in err[0..errlen) when
     * it could not be read or is invalid: the plugin then goes on with
     * its old data, untouched, so a mistake in a file never opens or
     * closes the door by accident.
     */
    int (*reload)(void *state, char *err, size_t errlen);

    /*
     * Connection decisions (mpbroker 0.2, in place of a reserved member):
     * required when kind == MP_PLUGIN_AUTHORIZER, optional for an
     * authenticator, NULL for a translator. A 0.1 broker refuses a
     * descriptor that sets it (its reserved members must be NULL).
     */
    const struct mp_authz_ops *authz;

    void *reserved[6]; /* must be NULL */
};

/* The one symbol a plugin exports (see MP_PLUGIN_ENTRY_SYMBOL). */
typedef const struct mp_plugin *(*mp_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* MP_PLUGIN_H */
