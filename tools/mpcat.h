/*
 * mpcat.h - what the parts of mpcat share: the configuration from the
 * command line (mpcat_args.c), the state of the one run (struct app),
 * the exit statuses, and the messages and exit path (mpcat.c). The input
 * of connect mode is read in mpcat_input.c and cut into messages by
 * mpcat_split.c.
 *
 * Ownership: one struct app, static in main(), lives for the whole run;
 * the struct config in it points into argv and the environment, except
 * `secret`, which it owns.
 */
#ifndef MPCAT_H
#define MPCAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include <mp/client.h>

#include "mpcat_split.h"

#define PROG "mpcat"
#define DEFAULT_ADDRESS "tcp:127.0.0.1:7330"

/* libmpclient's (and the broker's) default limit on one encoded message.
 * No payload can be longer, so input without a delimiter is refused once
 * it passes this: memory stays bounded whatever stdin holds. */
#define MESSAGE_MAX 1048576u

/* Bytes read from the input per loop pass. */
#define CHUNK 65536
/* What may wait in libmpclient for the broker (its memory) before input
 * is paused; one connection's share of it, past which -e sheds the peer. */
#define QUEUE_MAX (4u * 1024 * 1024)
#define CONN_QUEUE_MAX (1024u * 1024)

/* The most broker addresses (-a given several times). */
#define ADDRESSES_MAX 16

/* The longest secret read from -S or MPCAT_SECRET. */
#define SECRET_MAX 65536


enum status {
    ST_OK = 0,
    ST_ERROR = 1,   /* I/O, a message too big, anything else */
    ST_USAGE = 2,
    ST_AUTH = 3,    /* the broker refused the login */
    ST_REFUSED = 4, /* no such client, or no handler for the protocol */
    ST_BROKER = 5,  /* the broker is unreachable, or went away */
    ST_SHORT = 6,   /* -c N: the end came before N messages arrived (-w
                       ran out, the peer closed); request: fewer than
                       -c N replies (default 1) within -w */
    /* Protocol level 2: the broker says what happened. */
    ST_DENIED = 7,     /* the open was denied (authorization, a limit) */
    ST_REPLACED = 8,   /* the name logged in again elsewhere */
    ST_GOING_AWAY = 9  /* the broker announced its shutdown, and closed */
};

/* listen, connect, request; and at level 2, watch (presence) and list. */
enum mode { MODE_LISTEN, MODE_CONNECT, MODE_WATCH, MODE_LIST, MODE_REQUEST };

/* request: the longest wait for the replies, by default. */
#define REQUEST_WAIT_S 10.0

struct config {
    const char *address;      /* the first broker address */
    const char *address_from; /* "-a", "MPCAT_ADDRESS": for messages */
    const char *more_addresses[ADDRESSES_MAX - 1]; /* -a again: tried in
                                 turn after `address` */
    size_t n_more_addresses;
    bool reconnect;           /* listen and watch, unless --no-reconnect */
    bool no_reconnect;        /* --no-reconnect */
    bool reconnect_options_given; /* any of them */
    double reconnect_delay_s; /* --reconnect-delay: 0 = the library's */
    double reconnect_max_delay_s; /* --reconnect-max-delay: 0 = ditto */
    unsigned long reconnect_attempts; /* --reconnect-attempts: 0 = ever */
    const char *format;
    const char *name;
    unsigned char *secret;  /* malloc'd; wiped once libmpclient has a copy */
    size_t secret_len;
    enum framing framing;
    double wait_s;          /* connect: idle time before closing (with
                               -c: the longest wait); request: the
                               longest wait, 0 = none */
    unsigned long count;    /* -c: leave after this many messages; 0 = no */
    bool echo;              /* listen: send every message back */
    bool once;              /* listen: exit when the connections are over */
    bool verbose;
    const char *tls_ca;     /* tls: addresses */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_server_name;
    size_t queue;           /* libmpclient's max_queued */
    size_t conn_queue;      /* ... and max_queued_per_conn */
    int keepalive_s;        /* TCP keepalive; < 0 = off */
    double idle_timeout_s;  /* 0 = none */
    unsigned level;         /* --level: 1, or 0 = the library's (2) */
    bool prefix;            /* watch: the operands are prefixes */
    enum mode mode;
    const char *peer;       /* connect and request */
    const char *protocol;
    char **files;           /* connect: FILE arguments; watch: the names;
                               list: the prefix (none: all); request:
                               DATA (none: stdin) */
    int n_files;
};

/* A byte buffer: data[0..len) in use. */
struct buf {
    unsigned char *data;
    size_t len, cap;
};

/* The input being read in connect mode: stdin or one FILE argument. */
struct input {
    int fd;                 /* -1 when none is open */
    const char *label;      /* "stdin" or the FILE, for messages */
    bool owned;             /* we opened it: close it */
    bool pollable;          /* watched by epoll (else read synchronously) */
    struct buf pending;     /* bytes not yet part of a whole message */
    struct splitter split;  /* cuts pending into messages */
    struct event *ev;
    unsigned serial;        /* counts inputs begun, to tell them apart */
    bool blocked;           /* libmpclient's queue is full: wait for
                               on_drained before reading on */
    bool eof_pending;       /* ... and the input ended meanwhile */
    bool told_paused;       /* -v: the pause was reported */
};

/* listen -e at level 2: a connection's echoes that wait for credit. The
 * peer is granted back what we received only once its echo went out, so
 * this holds at most a window (and one message): see mpcat_echo.c. */
struct echo {
    struct app *app;
    struct mp_conn *conn;   /* NULL once closed */
    struct buf backlog;     /* 4-byte big-endian length, then the bytes */
    size_t sent;            /* offset of the first echo still waiting */
    size_t ungranted;       /* cost echoed and not yet granted back */
    struct echo *next;      /* in app->echoes */
};

struct app {
    struct config cfg;
    struct event_base *base;
    struct mp_client *client;
    struct event *sig_int, *sig_term;
    struct event *idle;        /* connect: the -w timer */
    /* connect mode */
    struct mp_conn *conn;      /* the open connection; NULL once closed */
    struct input in;
    int next_file;             /* index of the next FILE argument */
    bool lingering;            /* input done, waiting for the peer */
    /* listen mode */
    unsigned open_conns;
    struct echo *echoes;       /* -e at level 2: one per connection */
    /* request mode */
    struct buf question;       /* what to send: DATA or all of stdin */
    bool question_borrowed;    /* question.data is argv's DATA */
    /* all */
    unsigned long received;    /* messages printed, for -c */
    /* the outcome */
    bool leaving;              /* mp_client_disconnect() under way */
    int leave_status;          /* ... and the status it ends with */
    bool finished;
    int status;
};

/* ------------------------------------------------------------------------
 * mpcat.c: messages and the exit path
 */

/* "mpcat: MESSAGE" on stderr, without the newline. */
void vnote_start(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
/* "mpcat: MESSAGE\n" on stderr. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record the exit status (the first one counts) and leave the loop. */
void finish(struct app *a, int status);
/* note(), then finish(); nothing once finished. */
void fail(struct app *a, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The exit status for a libmpclient error. */
int status_of(int error);
/* Connect mode: all input sent; close now (-w 0) or wait for the peer. */
void input_finished(struct app *a);
/* Start the -w timer of connect's end (and request's deadline). */
void start_wait(struct app *a);
/* Print one message in the -0/-l/line framing; false on a write error. */
bool print_message(const struct config *c, const char *peer,
                   const void *data, size_t len);
/* Open the connection to PEER for PROTO (connect, request -c N). */
void open_peer(struct app *a);
/* An open refused (or failed to start): the error, a hint, the exit. */
void open_failed(struct app *a, int status);
/* Leave gracefully (see mpcat.c), then exit with `status`. */
void leave(struct app *a, int status);

/* ------------------------------------------------------------------------
 * mpcat_args.c: the command line
 */

/* Fill *c from the command line and the environment. Returns -1 to go on,
 * or the exit status (0 after --help or --version), its error printed. */
int parse_args(struct config *c, int argc, char **argv);

/* ------------------------------------------------------------------------
 * mpcat_echo.c: listen -e at protocol level 2
 */

/* A connection accepted: at level 2, its echo state (manual credit). */
bool echo_attach(struct app *a, struct mp_conn *conn);
/* Echo one message on conn: MP_OK (sent, or waiting for credit) or the
 * error of mp_conn_send (level 1 only: MP_ERR_WOULD_BLOCK, which sheds
 * the peer). */
int echo_message(struct app *a, struct mp_conn *conn, const void *data,
                 size_t len);
/* conn is over: forget its echo state. */
void echo_detach(struct app *a, struct mp_conn *conn);
/* Free every echo state (teardown). */
void echo_free_all(struct app *a);

/* ------------------------------------------------------------------------
 * mpcat_presence.c: watch and list
 */

/* Logged in: start the watch or list command. */
void presence_start(struct app *a);

/* ------------------------------------------------------------------------
 * mpcat_request.c: the request command
 */

/* Before logging in: the question, DATA or all of stdin. */
int ask_read_question(struct app *a);
/* Logged in: ask (mp_client_request), or for -c N > 1 open a
 * connection (mpcat.c's, then ask_opened sends). */
void ask_start(struct app *a);
/* request -c N: the connection a->conn is open; send the question. */
void ask_opened(struct app *a);
/* Free the question (teardown). */
void ask_free(struct app *a);

/* ------------------------------------------------------------------------
 * mpcat_input.c: connect mode's input
 */

/* Start reading stdin, or the next FILE argument; or, when none is left,
 * go on to input_finished(). */
void next_input(struct app *a);
/* Stop reading: the input is closed (if ours) and its bytes dropped. */
void input_close(struct input *in);
/* libmpclient's queue has room again (mp_drained_cb): send what waited,
 * read on. */
void on_drained(struct mp_client *client, void *arg);

#endif
