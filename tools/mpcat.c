/*
 * mpcat - send and receive mpbroker messages from a shell; the
 * mosquitto_pub/mosquitto_sub of mpbroker.
 *
 *     mpcat [options] listen PROTO
 *     mpcat [options] connect PEER PROTO [FILE...]
 *
 * One event_base of our own runs everything: the libmpclient client (in
 * attached mode), the input (a libevent read event for pipes, sockets and
 * terminals; chunked synchronous reads, one chunk per loop pass, for
 * regular files and devices, which epoll cannot watch), SIGINT/SIGTERM,
 * and the timers. Every way out goes through finish(), which records the
 * exit status and breaks the loop; main() then frees everything.
 *
 * Exit status: see enum status and the --help text.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <mp/client.h>

#include "name.h"

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

/* The longest secret read from -S or MPCAT_SECRET. */
#define SECRET_MAX 65536


enum status {
    ST_OK = 0,
    ST_ERROR = 1,   /* I/O, a message too big, anything else */
    ST_USAGE = 2,
    ST_AUTH = 3,    /* the broker refused the login */
    ST_REFUSED = 4, /* no such client, or no handler for the protocol */
    ST_BROKER = 5,  /* the broker is unreachable, or went away */
    ST_SHORT = 6    /* -c N: the end came before N messages arrived */
};

/* How messages are cut from the input and framed on stdout. */
enum framing {
    FRAME_LINE,   /* one per line, '\n' removed / appended */
    FRAME_NUL,    /* each ended by a NUL byte */
    FRAME_LENGTH, /* a 4-byte big-endian length, then the bytes */
    FRAME_WHOLE   /* a FILE argument: its whole content (input only) */
};

enum mode { MODE_LISTEN, MODE_CONNECT };

struct config {
    const char *address;
    const char *address_from; /* "-a", "MPCAT_ADDRESS": for messages */
    const char *format;
    const char *name;
    unsigned char *secret;  /* malloc'd; wiped once libmpclient has a copy */
    size_t secret_len;
    enum framing framing;
    double wait_s;          /* connect: idle time before closing */
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
    enum mode mode;
    const char *peer;       /* connect only */
    const char *protocol;
    char **files;           /* connect: FILE arguments */
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
    enum framing framing;
    struct buf pending;     /* bytes not yet part of a whole message */
    size_t scanned;         /* pending[0..scanned) holds no delimiter */
    struct event *ev;
    unsigned serial;        /* counts inputs begun, to tell them apart */
    bool blocked;           /* libmpclient's queue is full: wait for
                               on_drained before reading on */
    bool eof_pending;       /* ... and the input ended meanwhile */
    bool told_paused;       /* -v: the pause was reported */
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
    /* both */
    unsigned long received;    /* messages printed, for -c */
    /* the outcome */
    bool leaving;              /* mp_client_disconnect() under way */
    int leave_status;          /* ... and the status it ends with */
    bool finished;
    int status;
};

/* ------------------------------------------------------------------------
 * Messages and the exit path
 */

/* "mpcat: MESSAGE" on stderr, without the newline. */
static void vnote_start(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static void vnote_start(const char *fmt, va_list ap)
{
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote_start(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Record the exit status and leave the loop after the current callback.
 * Only the first outcome counts: later ones are consequences of it (the
 * broker being lost fails the open, closes the connection, ...). */
static void finish(struct app *a, int status)
{
    if (a->finished)
        return;
    a->finished = true;
    a->status = status;
    event_base_loopbreak(a->base);
}

static void fail(struct app *a, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct app *a, int status, const char *fmt, ...)
{
    va_list ap;

    if (a->finished)
        return;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    finish(a, status);
}

/* The exit status for a libmpclient error. */
static int status_of(int error)
{
    switch (error) {
    case MP_OK:
        return ST_OK;
    case MP_ERR_INVALID:
        return ST_USAGE;
    case MP_ERR_AUTH:
        return ST_AUTH;
    case MP_ERR_NO_SUCH_CLIENT:
    case MP_ERR_UNKNOWN_PROTOCOL:
    case MP_ERR_PEER_LEFT:
        return ST_REFUSED;
    case MP_ERR_ADDRESS: /* syntax was checked: the host did not resolve */
    case MP_ERR_CONNECT:
    case MP_ERR_BROKER_GONE:
    case MP_ERR_TIMEOUT:
    case MP_ERR_CLOSED:
    case MP_ERR_TLS:
        return ST_BROKER;
    default:
        return ST_ERROR;
    }
}

/* ------------------------------------------------------------------------
 * Command line
 */

#define USAGE                                                                 \
    "usage: " PROG " [-a ADDR] [-f json|binary|gob] -n NAME [-s SECRET | -S FILE]\n" \
    "             [-0 | -l] [-v] [-c N] [-e] [-q] [limits] listen PROTO\n"            \
    "       " PROG " [-a ADDR] [-f json|binary|gob] -n NAME [-s SECRET | -S FILE]\n" \
    "             [-0 | -l] [-v] [-c N] [-w SECONDS] [limits]\n"                      \
    "             connect PEER PROTO [FILE...]\n"                                      \
    "       " PROG " -h | -V\n"

static void help(void)
{
    fputs(USAGE
          "\n"
          "Send and receive messages through an mpbroker.\n"
          "\n"
          "  listen PROTO   accept connections for protocol PROTO and print\n"
          "                 every message they carry; runs until SIGINT or\n"
          "                 SIGTERM (exit 0) or until the broker is gone\n"
          "  connect PEER PROTO [FILE...]\n"
          "                 open a connection to client PEER for PROTO; send\n"
          "                 each line of stdin as one message (or each FILE's\n"
          "                 whole content, \"-\" = all of stdin); print replies;\n"
          "                 after the input ends, close once the peer closes\n"
          "                 or -w SECONDS pass without a message\n"
          "                 (with -c N: as soon as N messages arrived)\n"
          "\n"
          "  -a, --address ADDR     broker: tcp:HOST:PORT, tls:HOST:PORT or\n"
          "                         unix:PATH\n"
          "                         (default $MPCAT_ADDRESS, else " DEFAULT_ADDRESS ")\n"
          "  -f, --format FMT       wire format of that listener: binary (default),\n"
          "                         json, or gob (the original's Go clients)\n"
          "  -n, --name NAME        the name to log in with (required)\n"
          "  -s, --secret SECRET    the secret; WARNING: other users can see it\n"
          "                         in ps(1) - prefer -S or $MPCAT_SECRET\n"
          "  -S, --secret-file FILE read the secret from FILE (one trailing\n"
          "                         newline removed); default $MPCAT_SECRET,\n"
          "                         else the empty secret\n"
          "  -0, --null             messages end with a NUL byte, in and out\n"
          "  -l, --length           messages are a 4-byte big-endian length and\n"
          "                         the bytes, in and out\n"
          "  -w, --wait SECONDS     connect: idle time after the input ends\n"
          "                         before closing (default 1, fractions allowed,\n"
          "                         0 = close at once)\n"
          "  -c, --count N          exit 0 as soon as N messages have arrived\n"
          "                         (connect: from the peer; listen: from all\n"
          "                         connections); ending before that (-w ran\n"
          "                         out, the peer closed) exits 6\n"
          "  -e, --echo             listen: send every message back to its sender;\n"
          "                         a peer that does not read its echoes (its\n"
          "                         backlog passes --conn-queue) is disconnected\n"
          "  -q, --once             listen: exit 0 once every accepted connection\n"
          "                         has closed (after the first one arrived)\n"
          "  -v, --verbose          prefix each printed line with \"PEER: \" (line\n"
          "                         mode) and report logins and connections on\n"
          "                         stderr\n"
          "      --ca FILE          tls: the CAs (PEM) that sign the broker's\n"
          "                         certificate (default: the system's)\n"
          "      --cert FILE        tls: a client certificate (PEM) to present\n"
          "      --key FILE         tls: its private key (default: in --cert)\n"
          "      --server-name NAME tls: the name the broker's certificate must\n"
          "                         carry (default: HOST of the address)\n"
          "\n"
          "  limits:\n"
          "      --queue BYTES      memory that messages waiting for the broker may\n"
          "                         hold before input pauses (default 4194304)\n"
          "      --conn-queue BYTES listen: one connection's share of it (default\n"
          "                         1048576)\n"
          "      --keepalive SECONDS  TCP keepalive: probe a silent broker after\n"
          "                         SECONDS (default 60; 0 = off)\n"
          "      --idle-timeout SECONDS  give up on a broker that sends nothing for\n"
          "                         SECONDS (fractions allowed; default 0 = never)\n"
          "  -h, --help             print this help\n"
          "  -V, --version          print the version\n"
          "\n"
          "Exit status: 0 ok; 1 other error (I/O, message too big, ...);\n"
          "2 usage error (also an invalid name, or PEER the same as NAME);\n"
          "3 authentication failed; 4 connection refused (no such client, or\n"
          "no handler for the protocol); 5 broker unreachable or gone;\n"
          "6 fewer than -c N messages arrived.\n",
          stdout);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A command line of the wrong form: one line saying what is wrong, and
 * where to read more (as GNU tools do: the whole usage would bury it). */
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote_start(fmt, ap);
    va_end(ap);
    fputs("\nTry '" PROG " --help' for more information.\n", stderr);
    return ST_USAGE;
}

/* A command line of the right form with a value the broker would refuse:
 * one line naming the rule, which is all the fix needs. */
static int argument_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int argument_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote_start(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return ST_USAGE;
}

/* Only the shape: "unix:PATH" or "tcp:HOST:PORT". A typo is a usage error
 * (2); an address of the right shape that does not work is an unreachable
 * broker (5). libmpclient does the real parsing. */
static bool address_ok(const char *s)
{
    const char *host, *port;
    char *end;
    long p;

    if (strncmp(s, "unix:", 5) == 0)
        return s[5] != '\0';
    if (strncmp(s, "tcp:", 4) != 0 && strncmp(s, "tls:", 4) != 0)
        return false;
    host = s + 4;
    port = strrchr(host, ':');
    if (port == NULL || port == host)
        return false;
    port++;
    if (*port < '0' || *port > '9')
        return false;
    errno = 0;
    p = strtol(port, &end, 10);
    return errno == 0 && *end == '\0' && p > 0 && p <= 65535;
}

/* A byte count from 1 KiB to 1 GiB. */
static bool parse_bytes(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < 1024 ||
        v > (1ull << 30))
        return false;
    *out = (size_t)v;
    return true;
}

/* A non-negative, finite number of seconds, at most ~31 years. */
static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 ||
        v > 1e9)
        return false;
    *out = v;
    return true;
}

/* A message count from 1 to 10^9 (no shell loop needs more). */
static bool parse_count(const char *s, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || *s == '+' ||
        v < 1 || v > 1000000000ul)
        return false;
    *out = v;
    return true;
}

static bool set_secret(struct config *c, const void *bytes, size_t len)
{
    free(c->secret);
    c->secret = malloc(len + 1);
    if (c->secret == NULL)
        return false;
    memcpy(c->secret, bytes, len);
    c->secret_len = len;
    return true;
}

/* The content of `path`, minus one trailing newline (editors add one). */
static int read_secret_file(struct config *c, const char *path)
{
    unsigned char buf[SECRET_MAX + 1];
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = ST_OK;

    if (fd < 0) {
        note("cannot read the secret file '%s' (-S): %s", path,
             strerror(errno));
        return ST_ERROR;
    }
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            note("cannot read the secret file '%s' (-S): %s", path,
                 strerror(errno));
            rc = ST_ERROR;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (rc == ST_OK && len > SECRET_MAX) {
        note("the secret file '%s' (-S) is too long: a secret is at most "
             "%d bytes", path, SECRET_MAX);
        rc = ST_ERROR;
    }
    if (rc == ST_OK) {
        if (len > 0 && buf[len - 1] == '\n')
            len--;
        if (!set_secret(c, buf, len)) {
            note("out of memory");
            rc = ST_ERROR;
        }
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* -s, -S, else $MPCAT_SECRET, else empty. */
static int resolve_secret(struct config *c, char *arg_secret,
                          const char *secret_file)
{
    const char *env = getenv("MPCAT_SECRET");

    if (arg_secret != NULL) {
        bool ok = set_secret(c, arg_secret, strlen(arg_secret));
        /* Shorten the time the secret shows in ps(1); it cannot be
         * avoided entirely, hence the warning in --help. */
        explicit_bzero(arg_secret, strlen(arg_secret));
        if (!ok) {
            note("out of memory");
            return ST_ERROR;
        }
        return ST_OK;
    }
    if (secret_file != NULL)
        return read_secret_file(c, secret_file);
    if (env != NULL && strlen(env) > SECRET_MAX) {
        note("MPCAT_SECRET is too long: a secret is at most %d bytes",
             SECRET_MAX);
        return ST_ERROR;
    }
    if (!set_secret(c, env ? env : "", env ? strlen(env) : 0)) {
        note("out of memory");
        return ST_ERROR;
    }
    return ST_OK;
}

/* The command and its operands, after the options. */
static int parse_command(struct config *c, int argc, char **argv)
{
    if (argc < 1)
        return usage_error("missing command: give 'listen PROTO' or "
                           "'connect PEER PROTO'");
    if (strcmp(argv[0], "listen") == 0) {
        if (argc != 2)
            return usage_error("listen takes one operand, PROTO (got %d)",
                               argc - 1);
        c->mode = MODE_LISTEN;
        c->protocol = argv[1];
        return ST_OK;
    }
    if (strcmp(argv[0], "connect") == 0) {
        if (argc < 3)
            return usage_error("connect takes PEER PROTO [FILE...] (got %d "
                               "operand%s)", argc - 1, argc == 2 ? "" : "s");
        c->mode = MODE_CONNECT;
        c->peer = argv[1];
        c->protocol = argv[2];
        c->files = argv + 3;
        c->n_files = argc - 3;
        return ST_OK;
    }
    return usage_error("unknown command '%s': the commands are listen and "
                       "connect", argv[0]);
}

/* Options that make sense for one command only are refused with the
 * other, so that a misplaced option is noticed rather than ignored. */
static int check_combination(const struct config *c, bool wait_given)
{
    if (c->mode == MODE_CONNECT && (c->echo || c->once))
        return usage_error("-e and -q apply to listen only: drop them, or "
                           "use listen");
    if (c->mode == MODE_LISTEN && wait_given)
        return usage_error("-w applies to connect only: drop it, or use "
                           "connect");
    if (c->name == NULL)
        return usage_error("-n NAME is required: the name to log in with");
    if (!address_ok(c->address))
        return usage_error("bad broker address '%s' (%s): want "
                           "tcp:HOST:PORT, tls:HOST:PORT or unix:PATH",
                           c->address, c->address_from);
    if ((c->tls_ca || c->tls_cert || c->tls_key || c->tls_server_name) &&
        strncmp(c->address, "tls:", 4) != 0)
        return usage_error("--ca, --cert, --key and --server-name need a "
                           "tls:HOST:PORT address, not '%s'", c->address);
    if (c->tls_key != NULL && c->tls_cert == NULL)
        return usage_error("--key needs --cert: give the certificate too");
    if (strcmp(c->format, "json") != 0 && strcmp(c->format, "binary") != 0 &&
        strcmp(c->format, "gob") != 0)
        return usage_error("bad format '%s' (-f): want json, binary or gob",
                           c->format);
    return ST_OK;
}

/*
 * The names, against the broker's rules (common/name.c, which the broker
 * and libmpclient use too), before connecting: libmpclient could only say
 * "invalid argument", and the broker would refuse the login. Connecting
 * to oneself is refused by libmpclient (both ends would share one id);
 * said here, it needs no broker and names the fix.
 */
static int check_names(const struct config *c)
{
    static const char rule[] = "a name is 1 to 255 bytes of UTF-8 without "
                               "':' or control characters";
    const char *why = mp_name_check(c->name, strlen(c->name));

    if (why != NULL)
        return argument_error("invalid name '%s' (-n): %s; %s", c->name, why,
                              rule);
    if (c->mode != MODE_CONNECT)
        return ST_OK;
    why = mp_name_check(c->peer, strlen(c->peer));
    if (why != NULL)
        return argument_error("invalid peer name '%s': %s; %s", c->peer, why,
                              rule);
    if (strcmp(c->peer, c->name) == 0)
        return argument_error("cannot connect to yourself: PEER '%s' is the "
                              "-n name; log in with another -n NAME, or "
                              "connect to another client", c->peer);
    return ST_OK;
}

/* Long-only options. */
enum {
    OPT_CA = 256, OPT_CERT, OPT_KEY, OPT_SERVER_NAME, OPT_QUEUE,
    OPT_CONN_QUEUE, OPT_KEEPALIVE, OPT_IDLE_TIMEOUT
};

static const struct option long_options[] = {
    { "address", required_argument, NULL, 'a' },
    { "format", required_argument, NULL, 'f' },
    { "name", required_argument, NULL, 'n' },
    { "secret", required_argument, NULL, 's' },
    { "secret-file", required_argument, NULL, 'S' },
    { "null", no_argument, NULL, '0' },
    { "length", no_argument, NULL, 'l' },
    { "wait", required_argument, NULL, 'w' },
    { "count", required_argument, NULL, 'c' },
    { "echo", no_argument, NULL, 'e' },
    { "once", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "ca", required_argument, NULL, OPT_CA },
    { "cert", required_argument, NULL, OPT_CERT },
    { "key", required_argument, NULL, OPT_KEY },
    { "server-name", required_argument, NULL, OPT_SERVER_NAME },
    { "queue", required_argument, NULL, OPT_QUEUE },
    { "conn-queue", required_argument, NULL, OPT_CONN_QUEUE },
    { "keepalive", required_argument, NULL, OPT_KEEPALIVE },
    { "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
    { NULL, 0, NULL, 0 }
};

/* getopt's failures, for `arg` (argv[optind - 1]: the word it was on).
 * optopt is the option character, or 0 for an unknown long option. */
static bool is_long(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-';
}

/* "--name=value" as "--name". */
static int long_name_len(const char *arg)
{
    return (int)strcspn(arg, "=");
}

static int unknown_option(const char *arg)
{
    if (!is_long(arg))
        return usage_error("unknown option '-%c'", optopt);
    if (optopt != 0) /* a known long option, given a value */
        return usage_error("option '%.*s' takes no value",
                           long_name_len(arg), arg);
    return usage_error("unknown option '%.*s'", long_name_len(arg), arg);
}

static int missing_argument(const char *arg)
{
    if (!is_long(arg))
        return usage_error("option '-%c' needs a value", optopt);
    return usage_error("option '%s' needs a value", arg);
}

/*
 * Fill *c from the command line and the environment. Returns -1 to go on,
 * or the exit status (0 after --help or --version).
 */
static int parse_args(struct config *c, int argc, char **argv)
{
    char *arg_secret = NULL;
    const char *secret_file = NULL;
    bool wait_given = false;
    int opt, rc;

    c->address = getenv("MPCAT_ADDRESS");
    c->address_from = "MPCAT_ADDRESS";
    if (c->address == NULL || *c->address == '\0') {
        c->address = DEFAULT_ADDRESS;
        c->address_from = "the default";
    }
    c->format = "binary";
    c->framing = FRAME_LINE;
    c->wait_s = 1.0;
    c->queue = QUEUE_MAX;
    /* Our own messages for unknown options and missing arguments: one
     * line each, named "mpcat", whatever argv[0] is (a path, libtool's
     * lt-mpcat). */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":a:f:n:s:S:0lw:c:eqvhV",
                              long_options, NULL)) != -1) {
        switch (opt) {
        case 'a':
            c->address = optarg;
            c->address_from = "-a";
            break;
        case 'f': c->format = optarg; break;
        case 'n': c->name = optarg; break;
        case 's': arg_secret = optarg; break;
        case 'S': secret_file = optarg; break;
        case '0':
        case 'l':
            if (c->framing != FRAME_LINE)
                return usage_error("-0 and -l exclude each other");
            c->framing = opt == '0' ? FRAME_NUL : FRAME_LENGTH;
            break;
        case 'w':
            if (!parse_seconds(optarg, &c->wait_s))
                return usage_error("bad -w '%s': want seconds, 0 or more "
                                   "(fractions allowed)", optarg);
            wait_given = true;
            break;
        case 'c':
            if (!parse_count(optarg, &c->count))
                return usage_error("bad -c '%s': want a whole number of "
                                   "messages, 1 or more", optarg);
            break;
        case 'e': c->echo = true; break;
        case 'q': c->once = true; break;
        case 'v': c->verbose = true; break;
        case 'h': help(); return ST_OK;
        case 'V': puts(PROG " " PACKAGE_VERSION); return ST_OK;
        case OPT_CA: c->tls_ca = optarg; break;
        case OPT_CERT: c->tls_cert = optarg; break;
        case OPT_KEY: c->tls_key = optarg; break;
        case OPT_SERVER_NAME: c->tls_server_name = optarg; break;
        case OPT_QUEUE:
        case OPT_CONN_QUEUE:
            if (!parse_bytes(optarg, opt == OPT_QUEUE ? &c->queue
                                                      : &c->conn_queue))
                return usage_error("bad --%s '%s': want bytes, 1024 to "
                                   "1073741824", opt == OPT_QUEUE
                                   ? "queue" : "conn-queue", optarg);
            break;
        case OPT_KEEPALIVE: {
            double v;
            if (!parse_seconds(optarg, &v) || v > 86400 ||
                v != (double)(int)v)
                return usage_error("bad --keepalive '%s': want whole "
                                   "seconds, 0 to 86400", optarg);
            c->keepalive_s = v == 0 ? -1 : (int)v;
            break;
        }
        case OPT_IDLE_TIMEOUT:
            if (!parse_seconds(optarg, &c->idle_timeout_s) ||
                c->idle_timeout_s > 86400)
                return usage_error("bad --idle-timeout '%s': want "
                                   "seconds, 0 to 86400", optarg);
            break;
        case ':': return missing_argument(argv[optind - 1]);
        default: return unknown_option(argv[optind - 1]);
        }
    }
    if (arg_secret != NULL && secret_file != NULL)
        return usage_error("-s and -S exclude each other: give the secret "
                           "once");
    rc = parse_command(c, argc - optind, argv + optind);
    if (rc == ST_OK)
        rc = check_combination(c, wait_given);
    if (rc == ST_OK)
        rc = check_names(c);
    if (rc == ST_OK)
        rc = resolve_secret(c, arg_secret, secret_file);
    return rc == ST_OK ? -1 : rc;
}

/* ------------------------------------------------------------------------
 * Output
 */

static bool put_bytes(const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, stdout) == n;
}

/* Print one message in the chosen framing. Flushed at once: a reader of
 * a pipe (a script, a test) sees each message as it arrives. */
static bool print_message(const struct config *c, const char *peer,
                          const void *data, size_t len)
{
    unsigned char hdr[4];
    bool ok = false;

    switch (c->framing) {
    case FRAME_LENGTH:
        hdr[0] = (unsigned char)(len >> 24);
        hdr[1] = (unsigned char)(len >> 16);
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
        ok = put_bytes(hdr, 4) && put_bytes(data, len);
        break;
    case FRAME_NUL:
        ok = put_bytes(data, len) && putchar('\0') != EOF;
        break;
    case FRAME_LINE:
    case FRAME_WHOLE: /* input only */
        ok = true;
        if (c->verbose)
            ok = fputs(peer, stdout) != EOF && fputs(": ", stdout) != EOF;
        ok = ok && put_bytes(data, len) && putchar('\n') != EOF;
        break;
    }
    return fflush(stdout) == 0 && ok;
}

/* ------------------------------------------------------------------------
 * Connections: shared by both modes
 */

static void rearm_idle(struct app *a)
{
    struct timeval tv;

    tv.tv_sec = (time_t)a->cfg.wait_s;
    tv.tv_usec = (suseconds_t)((a->cfg.wait_s - (double)tv.tv_sec) * 1e6);
    evtimer_add(a->idle, &tv);
}

static void leave(struct app *a, int status);

static bool short_of_count(struct app *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* -c N: did fewer than N messages arrive? Then say so, with what ended
 * the wait (fmt), and the caller ends with ST_SHORT. */
static bool short_of_count(struct app *a, const char *fmt, ...)
{
    va_list ap;

    if (a->cfg.count == 0 || a->received >= a->cfg.count)
        return false;
    fprintf(stderr, PROG ": only %lu of %lu messages (-c %lu) arrived: ",
            a->received, a->cfg.count, a->cfg.count);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return true;
}

/*
 * -e: the echo cannot be queued, because this peer does not read what we
 * send it (its backlog passed --conn-queue) or everyone's backlog passed
 * --queue. Waiting would stall every connection (they share our socket)
 * and exiting would drop them all: disconnect this peer, as a NATS
 * server cuts a slow consumer. What was queued for it still goes.
 */
static void shed(struct app *a, struct mp_conn *conn)
{
    note("%s does not read its echoes (%zu bytes wait for it): closing "
         "connection %s", mp_conn_peer(conn), mp_conn_queued(conn),
         mp_conn_id(conn));
    mp_conn_close(conn);
    a->open_conns--;
    if (a->cfg.once && a->open_conns == 0)
        leave(a, short_of_count(a, "the last connection ended (-q)")
                     ? ST_SHORT : ST_OK);
}

static void on_message(struct mp_conn *conn, const void *data, size_t len,
                       void *arg)
{
    struct app *a = arg;
    int r;

    if (a->finished)
        return;
    if (!print_message(&a->cfg, mp_conn_peer(conn), data, len)) {
        fail(a, ST_ERROR, "cannot write to stdout: %s", strerror(errno));
        return;
    }
    if (a->cfg.echo) {
        r = mp_conn_send(conn, data, len);
        if (r == MP_ERR_WOULD_BLOCK) {
            shed(a, conn);
            return;
        }
        if (r != MP_OK) {
            fail(a, r == MP_ERR_TOO_BIG ? ST_ERROR : status_of(r),
                 "cannot echo to %s: %s", mp_conn_peer(conn), mp_strerror(r));
            return;
        }
    }
    /* -c N: the Nth message ends it, whatever input is left (its echo,
     * queued above, still goes: leaving flushes). */
    if (a->cfg.count != 0 && ++a->received >= a->cfg.count) {
        if (a->cfg.verbose)
            note("%lu message%s arrived (-c): closing", a->received,
                 a->received == 1 ? "" : "s");
        leave(a, ST_OK);
        return;
    }
    /* -w counts idle time: traffic starts it again. */
    if (a->lingering)
        rearm_idle(a);
}

static void on_lost(struct mp_client *c, int status, void *arg)
{
    struct app *a = arg;

    const char *why = mp_client_lost_reason(c);

    fail(a, status == MP_ERR_PROTOCOL ? ST_ERROR : ST_BROKER,
         "lost the broker at %s: %s%s%s", a->cfg.address, mp_strerror(status),
         *why ? ": " : "", why);
}

static void on_left(struct mp_client *c, void *arg)
{
    struct app *a = arg;

    (void)c;
    finish(a, a->leave_status);
}

static void input_close(struct input *in);

/*
 * Every normal end goes through here: the input is done and the -w time
 * passed, the peer closed, -q, a signal. mp_client_free() alone would drop
 * what is still queued (the tail of the input, the last echoes), so leave
 * the broker gracefully first: libmpclient closes the connections (the
 * peers are told), sends everything, and calls on_left once the broker
 * has read it all (or after its connect timeout, 10 s). Asked a second
 * time (a second Ctrl-C while that is slow), exit at once. `status` is
 * the exit status once gone (ST_SHORT when -c was not met); the first
 * call decides it.
 */
static void leave(struct app *a, int status)
{
    if (a->leaving) {
        finish(a, a->leave_status);
        return;
    }
    a->leaving = true;
    a->leave_status = status;
    a->conn = NULL;          /* closed by the disconnect, without on_close */
    input_close(&a->in);     /* nothing more can be sent */
    evtimer_del(a->idle);
    /* Not logged in (yet, or any more: on_lost has then decided). */
    if (mp_client_disconnect(a->client, on_left, a) != MP_OK)
        finish(a, status);
}

/* ------------------------------------------------------------------------
 * Listen mode
 */

static void listen_on_close(struct mp_conn *conn, int reason, void *arg)
{
    struct app *a = arg;

    /* Lost broker: on_lost reports it. Freed: we are exiting anyway. */
    if (a->finished || reason == MP_CLOSE_BROKER_LOST ||
        reason == MP_CLOSE_CLIENT_FREED)
        return;
    if (a->cfg.verbose)
        note("connection %s from %s ended: %s", mp_conn_id(conn),
             mp_conn_peer(conn), mp_close_reason_string(reason));
    a->open_conns--;
    if (a->cfg.once && a->open_conns == 0)
        leave(a, short_of_count(a, "the last connection ended (-q)")
                     ? ST_SHORT : ST_OK);
}

static void on_connection(struct mp_conn *conn, void *arg)
{
    struct app *a = arg;

    if (a->finished || a->leaving) {
        mp_conn_close(conn);
        return;
    }
    a->open_conns++;
    mp_conn_set_callbacks(conn, on_message, listen_on_close, a);
    if (a->cfg.verbose)
        note("connection %s from %s", mp_conn_id(conn), mp_conn_peer(conn));
}

/* ------------------------------------------------------------------------
 * Connect mode: closing
 */

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;

    (void)fd;
    (void)what;
    if (short_of_count(a, "none for %g s (-w); raise -w if the peer is slow",
                       a->cfg.wait_s))
        leave(a, ST_SHORT);
    else {
        if (a->cfg.verbose)
            note("no message for %g s: closing", a->cfg.wait_s);
        leave(a, ST_OK);
    }
}

/* All input sent: close now (-w 0) or wait for the peer. */
static void input_finished(struct app *a)
{
    if (a->cfg.wait_s <= 0) {
        leave(a, short_of_count(a, "-w 0 closes when the input ends; give -w "
                                 "SECONDS to wait for replies")
                     ? ST_SHORT : ST_OK);
        return;
    }
    /* Tests wait for this line to know when the countdown began. */
    if (a->cfg.verbose)
        note("input done: closing after %g s without a message",
             a->cfg.wait_s);
    a->lingering = true;
    rearm_idle(a);
}

static void connect_on_close(struct mp_conn *conn, int reason, void *arg)
{
    struct app *a = arg;

    (void)conn;
    a->conn = NULL;
    if (a->finished || reason == MP_CLOSE_BROKER_LOST ||
        reason == MP_CLOSE_CLIENT_FREED)
        return;
    /* The peer ending the conversation is a normal end, as in nc(1),
     * even if some input was not sent. */
    if (a->cfg.verbose)
        note("%s: %s", a->cfg.peer, mp_close_reason_string(reason));
    leave(a, short_of_count(a, "the peer closed the connection")
                 ? ST_SHORT : ST_OK);
}

/* ------------------------------------------------------------------------
 * Connect mode: input
 */

static bool buf_reserve(struct buf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : CHUNK;
    unsigned char *p;

    if (b->cap - b->len >= more)
        return true;
    while (cap - b->len < more)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return false;
    b->data = p;
    b->cap = cap;
    return true;
}

/* Drop the first n bytes: once per chunk read, not once per message. */
static void buf_consume(struct buf *b, size_t n)
{
    if (n == 0)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

enum sent { SENT, BLOCKED, FAILED };

/* Send one message of the input. BLOCKED: libmpclient's queue is full;
 * the input pauses until on_drained and this message is sent again. */
static enum sent send_message(struct app *a, const void *data, size_t len)
{
    int r;

    if (a->finished || a->conn == NULL)
        return FAILED;
    r = mp_conn_send(a->conn, data, len);
    if (r == MP_OK)
        return SENT;
    if (r == MP_ERR_WOULD_BLOCK) {
        if (a->cfg.verbose && !a->in.told_paused)
            note("the broker does not take more: input paused (%zu bytes "
                 "queued)", mp_client_queued(a->client));
        a->in.told_paused = true;
        a->in.blocked = true;
        if (a->in.ev != NULL && a->in.pollable)
            event_del(a->in.ev);
        return BLOCKED;
    }
    if (r == MP_ERR_TOO_BIG)
        fail(a, ST_ERROR, "%s: a message of %zu bytes is too big: %s (the "
             "broker takes at most 1 MiB encoded: split it)", a->in.label,
             len, mp_strerror(r));
    else
        fail(a, status_of(r), "cannot send to %s: %s", a->cfg.peer,
             mp_strerror(r));
    return FAILED;
}

/* The input holds a message over the limit: most often input in another
 * framing than the one given (binary data read as lines, text read as
 * -l frames), which the hint says. */
static bool too_big(struct app *a)
{
    static const char *const hint[] = {
        [FRAME_LINE] = "no newline in it: for binary data use -0 or -l",
        [FRAME_NUL] = "no NUL byte in it: is the input -0 framed?",
        [FRAME_LENGTH] = "is the input -l framed (a 4-byte big-endian "
                         "length before each message)?",
        [FRAME_WHOLE] = "split the file",
    };

    fail(a, ST_ERROR, "%s: a message longer than %u bytes is too big (%s)",
         a->in.label, MESSAGE_MAX, hint[a->in.framing]);
    return false;
}

/* Send every complete line (or NUL-ended message) in the pending bytes. */
static bool split_delimited(struct app *a, unsigned char delim)
{
    struct buf *b = &a->in.pending;
    size_t start = 0, from = a->in.scanned;
    unsigned char *d;

    while ((d = memchr(b->data + from, delim, b->len - from)) != NULL) {
        size_t end = (size_t)(d - b->data);
        enum sent r = send_message(a, b->data + start, end - start);
        if (r == FAILED)
            return false;
        if (r == BLOCKED)
            break; /* resend from `start` once drained */
        start = from = end + 1;
    }
    buf_consume(b, start);
    if (a->in.blocked) {
        a->in.scanned = 0; /* lines still wait in there */
        return true;
    }
    a->in.scanned = b->len;
    return b->len <= MESSAGE_MAX || too_big(a);
}

/* Send every complete length-prefixed frame in the pending bytes. */
static bool split_frames(struct app *a)
{
    struct buf *b = &a->in.pending;
    size_t off = 0;

    while (b->len - off >= 4) {
        const unsigned char *p = b->data + off;
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
                   (size_t)p[2] << 8 | p[3];
        if (n > MESSAGE_MAX) {
            buf_consume(b, off);
            return too_big(a);
        }
        if (b->len - off - 4 < n)
            break;
        enum sent r = send_message(a, p + 4, n);
        if (r == FAILED)
            return false;
        if (r == BLOCKED)
            break;
        off += 4 + n;
    }
    buf_consume(b, off);
    return true;
}

static bool split_input(struct app *a)
{
    switch (a->in.framing) {
    case FRAME_LINE:
        return split_delimited(a, '\n');
    case FRAME_NUL:
        return split_delimited(a, '\0');
    case FRAME_LENGTH:
        return split_frames(a);
    case FRAME_WHOLE:
        break;
    }
    return a->in.pending.len <= MESSAGE_MAX || too_big(a);
}

/* What is left at the end of the input: an unterminated last line or
 * message counts; half a frame is an error; a FILE is one message, even
 * an empty one. */
static enum sent flush_input(struct app *a)
{
    struct buf *b = &a->in.pending;

    if (a->in.framing != FRAME_WHOLE && !split_input(a))
        return FAILED;
    if (a->in.blocked)
        return BLOCKED;
    switch (a->in.framing) {
    case FRAME_LINE:
    case FRAME_NUL:
        return b->len == 0 ? SENT : send_message(a, b->data, b->len);
    case FRAME_LENGTH:
        if (b->len != 0)
            fail(a, ST_ERROR, "%s: the input ends inside a frame (cut "
                 "short, or not -l framed?)", a->in.label);
        return b->len == 0 ? SENT : FAILED;
    case FRAME_WHOLE:
        break;
    }
    return send_message(a, b->data, b->len);
}

static void input_close(struct input *in)
{
    if (in->ev != NULL) {
        event_free(in->ev);
        in->ev = NULL;
    }
    if (in->owned && in->fd >= 0)
        close(in->fd);
    in->fd = -1;
    in->owned = false;
    in->pending.len = 0;
    in->scanned = 0;
    in->blocked = false;
    in->eof_pending = false;
}

static void next_input(struct app *a);

static void input_eof(struct app *a)
{
    enum sent r = flush_input(a);

    if (r == BLOCKED)
        a->in.eof_pending = true; /* finish from on_drained */
    if (r != SENT)
        return;
    input_close(&a->in);
    next_input(a);
}

/* libmpclient's queue has room again: send what waited, read on. */
static void on_drained(struct mp_client *client, void *arg)
{
    struct app *a = arg;
    struct input *in = &a->in;

    (void)client;
    if (a->finished || !in->blocked || in->ev == NULL)
        return;
    in->blocked = false;
    if (in->eof_pending) {
        in->eof_pending = false;
        input_eof(a);
        return;
    }
    if (!split_input(a) || in->blocked)
        return;
    if (in->pollable)
        event_add(in->ev, NULL);
    else
        event_active(in->ev, EV_READ, 0);
}

/* Read one chunk and send the messages it completes. */
static void input_read(struct app *a)
{
    struct input *in = &a->in;
    ssize_t n;

    if (in->blocked)
        return; /* on_drained goes on */
    if (!buf_reserve(&in->pending, CHUNK)) {
        fail(a, ST_ERROR, "out of memory");
        return;
    }
    n = read(in->fd, in->pending.data + in->pending.len, CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n < 0) {
        fail(a, ST_ERROR, "%s: %s", in->label, strerror(errno));
        return;
    }
    if (n == 0) {
        input_eof(a);
        return;
    }
    in->pending.len += (size_t)n;
    split_input(a);
}

static void on_input(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;
    unsigned serial = a->in.serial;

    (void)fd;
    (void)what;
    input_read(a);
    /* A file is read synchronously, one chunk per loop pass, so that the
     * socket is served between chunks. input_read may have moved on to
     * the next input, which has already been started. */
    if (!a->finished && a->in.serial == serial && a->in.ev != NULL &&
        !a->in.pollable && !a->in.blocked)
        event_active(a->in.ev, EV_READ, 0);
}

/* Pipes, sockets and terminals can be polled; epoll refuses regular files
 * and most devices (/dev/null), which never block: read those directly. */
static bool fd_pollable(int fd)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return false;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(fd);
}

static void input_begin(struct app *a, int fd, const char *label, bool owned,
                        enum framing framing)
{
    struct input *in = &a->in;

    in->serial++;
    in->fd = fd;
    in->label = label;
    in->owned = owned;
    in->framing = framing;
    in->pollable = fd_pollable(fd);
    in->ev = event_new(a->base, in->pollable ? fd : -1,
                       in->pollable ? EV_READ | EV_PERSIST : 0, on_input, a);
    if (in->ev == NULL || (in->pollable && event_add(in->ev, NULL) != 0)) {
        fail(a, ST_ERROR, "%s: cannot watch it for input",
             label);
        input_close(in);
        return;
    }
    if (!in->pollable)
        event_active(in->ev, EV_READ, 0); /* the first chunk, next pass */
}

/* Start reading stdin, or the next FILE argument; or, when there is none
 * left, go on to closing. */
static void next_input(struct app *a)
{
    const struct config *c = &a->cfg;
    const char *path;
    int fd;

    if (a->finished)
        return;
    if (c->n_files == 0 && a->next_file == 0) {
        a->next_file = 1;
        input_begin(a, STDIN_FILENO, "stdin", false, c->framing);
        return;
    }
    if (a->next_file >= c->n_files) {
        input_finished(a);
        return;
    }
    path = c->files[a->next_file++];
    if (strcmp(path, "-") == 0) {
        input_begin(a, STDIN_FILENO, "stdin", false, FRAME_WHOLE);
        return;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(a, ST_ERROR, "%s: %s", path, strerror(errno));
        return;
    }
    input_begin(a, fd, path, true, FRAME_WHOLE);
}

/* ------------------------------------------------------------------------
 * Connect mode: opening
 */

/* A refused open, with what to do about it, which libmpclient cannot
 * say: it does not know the command line. */
static void open_failed(struct app *a, int status)
{
    const struct config *c = &a->cfg;
    char hint[600] = "";

    if (status == MP_ERR_NO_SUCH_CLIENT)
        snprintf(hint, sizeof hint, " (is %s logged in to this broker? "
                 "names are case-sensitive)", c->peer);
    else if (status == MP_ERR_UNKNOWN_PROTOCOL)
        snprintf(hint, sizeof hint, " (%s must listen for %s, as "
                 "'mpcat -n %s listen %s' does)", c->peer, c->protocol,
                 c->peer, c->protocol);
    fail(a, status_of(status), "cannot open %s to %s: %s%s", c->protocol,
         c->peer, mp_strerror(status), hint);
}

static void on_open(struct mp_conn *conn, int status, void *arg)
{
    struct app *a = arg;

    if (conn == NULL) {
        open_failed(a, status);
        return;
    }
    if (a->finished || a->leaving) {
        mp_conn_close(conn);
        return;
    }
    a->conn = conn;
    mp_conn_set_callbacks(conn, on_message, connect_on_close, a);
    if (a->cfg.verbose)
        note("connection %s to %s open", mp_conn_id(conn), a->cfg.peer);
    /* Only now: nothing is read that could not be sent. */
    next_input(a);
}

/* ------------------------------------------------------------------------
 * Logging in
 */

/*
 * The login failed: libmpclient's text for the error and its reason (the
 * broker's, OpenSSL's, the system's), then a hint naming the option to
 * change, which only mpcat knows.
 */
static void login_failed(struct app *a, int status, const char *reason)
{
    const struct config *c = &a->cfg;
    bool has_reason = reason != NULL && *reason != '\0';
    char hint[160] = "";

    switch (status) {
    case MP_ERR_AUTH:
        snprintf(hint, sizeof hint, " (check -n and the secret: -s, -S or "
                 "MPCAT_SECRET)");
        break;
    case MP_ERR_TLS:
        snprintf(hint, sizeof hint, " (check --ca, --server-name, --cert "
                 "and --key)");
        break;
    case MP_ERR_PROTOCOL:
    case MP_ERR_BROKER_GONE:
        /* A listener of another format drops us, or answers in it. */
        snprintf(hint, sizeof hint, " (is -f %s the format of the listener "
                 "at %s?)", c->format, c->address);
        break;
    case MP_ERR_CONNECT:
    case MP_ERR_ADDRESS:
    case MP_ERR_TIMEOUT:
        snprintf(hint, sizeof hint, " (is mpbroker running and listening "
                 "there? the address is from %s)", c->address_from);
        break;
    default:
        break;
    }
    if (status == MP_ERR_AUTH)
        fail(a, ST_AUTH, "authentication as %s failed: %s%s", c->name,
             has_reason ? reason : "no reason given", hint);
    else
        fail(a, status == MP_ERR_PROTOCOL ? ST_ERROR : status_of(status),
             "cannot log in at %s: %s%s%s%s", c->address,
             mp_strerror(status), has_reason ? ": " : "",
             has_reason ? reason : "", hint);
}

static void on_ready(struct mp_client *client, int status, const char *reason,
                     void *arg)
{
    struct app *a = arg;
    int r;

    if (status != MP_OK) {
        login_failed(a, status, reason);
        return;
    }
    if (a->cfg.verbose)
        note("logged in at %s as %s", a->cfg.address, mp_client_name(client));
    if (a->cfg.mode == MODE_LISTEN)
        return;
    r = mp_client_open(client, a->cfg.peer, a->cfg.protocol, on_open, a);
    if (r != MP_OK)
        open_failed(a, r);
}

/* ------------------------------------------------------------------------
 * Setting up and tearing down
 */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct app *a = arg;

    (void)sig;
    (void)what;
    leave(a, ST_OK);
}

static int make_client(struct app *a)
{
    struct config *c = &a->cfg;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    int err = MP_OK;

    o.address = c->address;
    o.format = c->format;
    o.name = c->name;
    o.secret = c->secret;
    o.secret_len = c->secret_len;
    o.max_queued = c->queue;
    /* connect has one connection: it may use the whole queue. */
    o.max_queued_per_conn = c->conn_queue       ? c->conn_queue
                            : c->mode == MODE_LISTEN ? CONN_QUEUE_MAX
                                                     : c->queue;
    o.keepalive_s = c->keepalive_s;
    o.idle_timeout_ms = (unsigned)(c->idle_timeout_s * 1000 + 0.5);
    /* At least 1 ms: 0 would mean "never". */
    if (c->idle_timeout_s > 0 && o.idle_timeout_ms == 0)
        o.idle_timeout_ms = 1;
    o.tls_ca_file = c->tls_ca;
    o.tls_cert_file = c->tls_cert;
    o.tls_key_file = c->tls_key;
    o.tls_server_name = c->tls_server_name;
    a->client = mp_client_new(a->base, &o, &err);
    /* libmpclient keeps its own copy: ours is of no more use. */
    explicit_bzero(c->secret, c->secret_len);
    if (a->client == NULL) {
        note("cannot create the client: %s", mp_strerror(err));
        return err == MP_ERR_INVALID ? ST_USAGE : status_of(err);
    }
    mp_client_on_lost(a->client, on_lost, a);
    mp_client_on_drained(a->client, on_drained, a);
    return ST_OK;
}

static int setup(struct app *a)
{
    int r;

    a->base = event_base_new();
    if (a->base == NULL) {
        note("cannot create an event loop");
        return ST_ERROR;
    }
    a->sig_int = evsignal_new(a->base, SIGINT, on_signal, a);
    a->sig_term = evsignal_new(a->base, SIGTERM, on_signal, a);
    a->idle = evtimer_new(a->base, on_idle, a);
    if (a->sig_int == NULL || a->sig_term == NULL || a->idle == NULL ||
        evsignal_add(a->sig_int, NULL) != 0 ||
        evsignal_add(a->sig_term, NULL) != 0) {
        note("cannot set up the event loop");
        return ST_ERROR;
    }
    r = make_client(a);
    if (r != ST_OK)
        return r;
    if (a->cfg.mode == MODE_LISTEN) {
        /* Before logging in: no Syn can find us without a handler. */
        r = mp_client_handle(a->client, a->cfg.protocol, on_connection, a);
        if (r != MP_OK) {
            note("cannot handle %s: %s", a->cfg.protocol, mp_strerror(r));
            return ST_ERROR;
        }
    }
    r = mp_client_connect(a->client, on_ready, a);
    if (r == MP_ERR_ADDRESS) {
        /* The shape was checked: the host does not resolve, or a unix:
         * path is longer than a socket address holds. */
        note("cannot use the broker address %s: %s (the address is from "
             "%s)", a->cfg.address,
             strncmp(a->cfg.address, "unix:", 5) == 0
                 ? "the path is too long for a unix socket"
                 : "its host does not resolve",
             a->cfg.address_from);
        return status_of(r);
    }
    if (r != MP_OK) {
        note("cannot connect to %s: %s", a->cfg.address, mp_strerror(r));
        return status_of(r);
    }
    return ST_OK;
}

static void free_event(struct event **ev)
{
    if (*ev != NULL)
        event_free(*ev);
    *ev = NULL;
}

static void teardown(struct app *a)
{
    /* Callbacks that mp_client_free() runs (on_close with CLIENT_FREED,
     * pending opens with MP_ERR_CLOSED) must change nothing now. */
    a->finished = true;
    input_close(&a->in);
    free(a->in.pending.data);
    free_event(&a->idle);
    mp_client_free(a->client);
    free_event(&a->sig_int);
    free_event(&a->sig_term);
    if (a->base != NULL)
        event_base_free(a->base);
    libevent_global_shutdown();
    if (a->cfg.secret != NULL)
        explicit_bzero(a->cfg.secret, a->cfg.secret_len);
    free(a->cfg.secret);
}

int main(int argc, char **argv)
{
    static struct app app;
    struct app *a = &app;
    int r;

    a->in.fd = -1;
    r = parse_args(&a->cfg, argc, argv);
    if (r >= 0) {
        free(a->cfg.secret);
        return r;
    }
    /* A closed stdout, or a socket libevent writes without MSG_NOSIGNAL,
     * must give an error we report, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    r = setup(a);
    if (r == ST_OK && !a->finished)
        event_base_dispatch(a->base);
    if (r == ST_OK)
        r = a->status;
    teardown(a);
    if (fflush(stdout) != 0 && r == ST_OK) {
        note("cannot write to stdout: %s", strerror(errno));
        r = ST_ERROR;
    }
    return r;
}
