/*
 * mpcat_args.c - mpcat's command line: the options, the operands, the
 * checks that need no broker (an address's shape, the names by the
 * broker's rules), the secret, and --help.
 *
 * A command line of the wrong form is one line and a pointer to --help
 * (usage_error); a well-formed one with a value the broker would refuse
 * is one line naming the rule (argument_error). Both exit 2.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "mpcat.h"
#include "name.h"

/* ------------------------------------------------------------------------
 * Command line
 */

#define USAGE                                                                 \
    "usage: " PROG " [-a ADDR]... [-f FORMAT] -n NAME [-s SECRET | -S FILE]\n" \
    "             [-0 | -l] [-v] [-c N] [-e] [-q] [reconnect] [limits] listen PROTO\n" \
    "       " PROG " [-a ADDR] [-f FORMAT] -n NAME [-s SECRET | -S FILE]\n" \
    "             [-0 | -l] [-v] [-c N] [-w SECONDS] [limits]\n"                      \
    "             connect PEER PROTO [FILE...]\n"                                      \
    "       " PROG " [-a ADDR]... [-f FORMAT] -n NAME [-s SECRET | -S FILE]\n" \
    "             [-0 | -l] [-v] [-c N] [-w SECONDS] [limits]\n"                      \
    "             request PEER PROTO [DATA]\n"                                        \
    "       " PROG " [-a ADDR]... [-f FORMAT] -n NAME [-s SECRET | -S FILE]\n"   \
    "             [-c N] [-p] [reconnect] [limits] watch NAME...\n"                    \
    "       " PROG " [-a ADDR] [-f FORMAT] -n NAME [-s SECRET | -S FILE]\n"   \
    "             [limits] list [PREFIX]\n"                                            \
    "       " PROG " -h | -V\n"

static void help(void)
{
    fputs(USAGE
          "\n"
          "Send and receive messages through an mpbroker.\n"
          "\n"
          "  listen PROTO   accept connections for protocol PROTO and print\n"
          "                 every message they carry; runs until SIGINT or\n"
          "                 SIGTERM (exit 0), reconnecting when the broker\n"
          "                 is lost (see reconnect below)\n"
          "  connect PEER PROTO [FILE...]\n"
          "                 open a connection to client PEER for PROTO; send\n"
          "                 each line of stdin as one message (or each FILE's\n"
          "                 whole content, \"-\" = all of stdin); print replies;\n"
          "                 after the input ends, close once the peer closes\n"
          "                 or -w SECONDS pass without a message\n"
          "                 (with -c N: as soon as N messages arrived)\n"
          "  request PEER PROTO [DATA]\n"
          "                 ask PEER one question for PROTO: DATA, or all of\n"
          "                 stdin as one message; print the reply and exit\n"
          "                 as soon as it arrived (with -c N: N replies);\n"
          "                 -w SECONDS is the longest wait (default 10)\n"
          "  watch NAME...  print \"NAME online\" or \"NAME offline\" for each\n"
          "                 NAME now and each time it changes (with -p, for\n"
          "                 every name that starts with a NAME); runs until\n"
          "                 SIGINT or SIGTERM, or -c N lines (level 2)\n"
          "  list [PREFIX]  print the names online that start with PREFIX\n"
          "                 (all without it), sorted, one a line (level 2)\n"
          "\n"
          "  -a, --address ADDR     broker: tcp:HOST:PORT, tls:HOST:PORT or\n"
          "                         unix:PATH\n"
          "                         (default $MPCAT_ADDRESS, else " DEFAULT_ADDRESS ");\n"
          "                         given again, more brokers, tried in turn\n"
          "  -f, --format FORMAT    wire format of that listener: binary (default),\n"
          "                         json, protobuf, or gob (the original's Go\n"
          "                         clients)\n"
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
          "                         0 = close at once); with -c N, the longest\n"
          "                         wait after the input ends; request: the\n"
          "                         longest wait for the replies (default 10,\n"
          "                         0 = no limit)\n"
          "  -c, --count N          exit 0 as soon as N messages have arrived\n"
          "                         (connect, request: from the peer; listen:\n"
          "                         from all connections); ending before that\n"
          "                         (-w ran out, the peer closed) exits 6\n"
          "  -e, --echo             listen: send every message back to its sender;\n"
          "                         a peer that does not read its echoes (its\n"
          "                         backlog passes --conn-queue) is disconnected\n"
          "  -q, --once             listen: exit 0 once every accepted connection\n"
          "                         has closed (after the first one arrived)\n"
          "  -p, --prefix           watch: the operands are prefixes, not names\n"
          "      --level N          the protocol level to announce: 2 (default:\n"
          "                         per-connection credit, presence, refusals\n"
          "                         that say why) or 1 (as a 2015 client);\n"
          "                         in gob the default is 1\n"
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
          "  reconnect: listen and watch log in again when the broker is lost\n"
          "      --no-reconnect     exit instead (status 5, 9 after GoingAway)\n"
          "      --reconnect-delay SECONDS  the wait before the second attempt,\n"
          "                         doubled after each (default 0.1; the first\n"
          "                         attempt is at once)\n"
          "      --reconnect-max-delay SECONDS  the longest wait (default 10)\n"
          "      --reconnect-attempts N  give up after N failed attempts in a\n"
          "                         row, exiting with the last error's status\n"
          "                         (default 0 = never)\n"
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
          "3 authentication failed (or the name is in use); 4 connection refused (no such client, or\n"
          "no handler for the protocol); 5 broker unreachable or gone;\n"
          "6 fewer than -c N messages arrived (request: no reply within -w,\n"
          "or the peer closed without one); 7 connection denied (the\n"
          "broker's authorization or a limit; level 2); 8 replaced (the name\n"
          "logged in again elsewhere; level 2); 9 the broker shut down after\n"
          "announcing it (level 2).\n",
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
    /* libmpclient reads a secret of length 0 as a C string. */
    ((char *)c->secret)[len] = '\0';
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
    if (strcmp(argv[0], "request") == 0) {
        if (argc < 3 || argc > 4)
            return usage_error("request takes PEER PROTO [DATA] (got %d "
                               "operand%s)", argc - 1, argc == 2 ? "" : "s");
        c->mode = MODE_REQUEST;
        c->peer = argv[1];
        c->protocol = argv[2];
        c->files = argv + 3;
        c->n_files = argc - 3;
        return ST_OK;
    }
    if (strcmp(argv[0], "watch") == 0) {
        if (argc < 2)
            return usage_error("watch takes NAME... (got none)");
        c->mode = MODE_WATCH;
        c->files = argv + 1;
        c->n_files = argc - 1;
        return ST_OK;
    }
    if (strcmp(argv[0], "list") == 0) {
        if (argc > 2)
            return usage_error("list takes at most one operand, PREFIX (got "
                               "%d)", argc - 1);
        c->mode = MODE_LIST;
        c->files = argv + 1;
        c->n_files = argc - 1;
        return ST_OK;
    }
    return usage_error("unknown command '%s': the commands are listen, "
                       "connect, request, watch and list", argv[0]);
}

/* Options that make sense for one command only are refused with the
 * other, so that a misplaced option is noticed rather than ignored. */
static int check_combination(const struct config *c, bool wait_given)
{
    char formats[64];
    bool presence = c->mode == MODE_WATCH || c->mode == MODE_LIST;
    bool tls_given = false;

    if (presence && (c->echo || c->once || wait_given ||
                     c->framing != FRAME_LINE))
        return usage_error("-e, -q, -w, -0 and -l do not apply to watch and "
                           "list: drop them");
    if (c->mode == MODE_LIST && c->count != 0)
        return usage_error("-c does not apply to list: drop it");
    if (c->prefix && c->mode != MODE_WATCH)
        return usage_error("-p applies to watch only: drop it, or use "
                           "watch");
    if (presence && c->level == 1)
        return usage_error("watch and list need protocol level 2: drop "
                           "--level 1");
    if (c->reconnect_options_given && c->mode != MODE_LISTEN &&
        c->mode != MODE_WATCH)
        return usage_error("--no-reconnect and --reconnect-* apply to listen "
                           "and watch only: drop them");
    if ((c->mode == MODE_CONNECT || c->mode == MODE_REQUEST) &&
        (c->echo || c->once))
        return usage_error("-e and -q apply to listen only: drop them, or "
                           "use listen");
    if (c->mode == MODE_LISTEN && wait_given)
        return usage_error("-w applies to connect and request only: drop "
                           "it, or use connect");
    if (c->name == NULL)
        return usage_error("-n NAME is required: the name to log in with");
    if (!address_ok(c->address))
        return usage_error("bad broker address '%s' (%s): want "
                           "tcp:HOST:PORT, tls:HOST:PORT or unix:PATH",
                           c->address, c->address_from);
    for (size_t i = 0; i < c->n_more_addresses; i++) {
        if (!address_ok(c->more_addresses[i]))
            return usage_error("bad broker address '%s' (-a): want "
                               "tcp:HOST:PORT, tls:HOST:PORT or unix:PATH",
                               c->more_addresses[i]);
        tls_given = tls_given ||
                    strncmp(c->more_addresses[i], "tls:", 4) == 0;
    }
    if ((c->tls_ca || c->tls_cert || c->tls_key || c->tls_server_name) &&
        strncmp(c->address, "tls:", 4) != 0 && !tls_given)
        return usage_error("--ca, --cert, --key and --server-name need a "
                           "tls:HOST:PORT address, not '%s'", c->address);
    if (c->tls_key != NULL && c->tls_cert == NULL)
        return usage_error("--key needs --cert: give the certificate too");
    if (mp_format_find(c->format) == NULL)
        return usage_error("bad format '%s' (-f): want %s", c->format,
                           mp_format_names(formats, sizeof formats, " or "));
    return ST_OK;
}

/* watch's names (or prefixes: any beginning of a name) and list's
 * prefix, by the same rules. */
static int check_watched(const struct config *c)
{
    bool prefix = c->prefix || c->mode == MODE_LIST;

    for (int i = 0; i < c->n_files; i++) {
        const char *s = c->files[i];
        const char *why = prefix ? NULL : mp_name_check(s, strlen(s));
        if (prefix && strlen(s) > MP_NAME_MAX)
            why = "longer than 255 bytes";
        for (const char *p = s; prefix && why == NULL && *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                why = "a control character";
        }
        if (why != NULL)
            return argument_error("invalid %s '%s': %s", prefix ? "prefix"
                                                               : "name",
                                  s, why);
    }
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
    if (c->mode == MODE_WATCH || c->mode == MODE_LIST)
        return check_watched(c);
    if (c->mode != MODE_CONNECT && c->mode != MODE_REQUEST)
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
    OPT_CONN_QUEUE, OPT_KEEPALIVE, OPT_IDLE_TIMEOUT, OPT_LEVEL,
    OPT_NO_RECONNECT, OPT_RECONNECT_DELAY, OPT_RECONNECT_MAX_DELAY,
    OPT_RECONNECT_ATTEMPTS
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
    { "prefix", no_argument, NULL, 'p' },
    { "level", required_argument, NULL, OPT_LEVEL },
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
    { "no-reconnect", no_argument, NULL, OPT_NO_RECONNECT },
    { "reconnect-delay", required_argument, NULL, OPT_RECONNECT_DELAY },
    { "reconnect-max-delay", required_argument, NULL,
      OPT_RECONNECT_MAX_DELAY },
    { "reconnect-attempts", required_argument, NULL,
      OPT_RECONNECT_ATTEMPTS },
    { NULL, 0, NULL, 0 }
};

/* -a: the first replaces $MPCAT_ADDRESS or the default; more are tried
 * in turn. */
static int add_address(struct config *c, const char *address)
{
    if (strcmp(c->address_from, "-a") != 0) {
        c->address = address;
        c->address_from = "-a";
        return ST_OK;
    }
    if (c->n_more_addresses == ADDRESSES_MAX - 1)
        return usage_error("too many -a: at most %d broker addresses",
                           ADDRESSES_MAX);
    c->more_addresses[c->n_more_addresses++] = address;
    return ST_OK;
}

/* --no-reconnect and --reconnect-*. */
static int reconnect_option(struct config *c, int opt, const char *arg)
{
    double *seconds = opt == OPT_RECONNECT_DELAY ? &c->reconnect_delay_s
                                                 : &c->reconnect_max_delay_s;
    unsigned long n;
    char *end;

    c->reconnect_options_given = true;
    switch (opt) {
    case OPT_NO_RECONNECT:
        c->no_reconnect = true;
        return ST_OK;
    case OPT_RECONNECT_DELAY:
    case OPT_RECONNECT_MAX_DELAY:
        if (!parse_seconds(arg, seconds) || *seconds < 0.001 ||
            *seconds > 86400)
            return usage_error("bad --reconnect-%sdelay '%s': want seconds, "
                               "0.001 to 86400",
                               opt == OPT_RECONNECT_DELAY ? "" : "max-", arg);
        return ST_OK;
    default:
        errno = 0;
        n = strtoul(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || *arg == '-' ||
            *arg == '+' || n > 1000000000ul)
            return usage_error("bad --reconnect-attempts '%s': want a whole "
                               "number, 0 (never give up) or more", arg);
        c->reconnect_attempts = n;
        return ST_OK;
    }
}

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
int parse_args(struct config *c, int argc, char **argv)
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
    while ((opt = getopt_long(argc, argv, ":a:f:n:s:S:0lw:c:eqpvhV",
                              long_options, NULL)) != -1) {
        switch (opt) {
        case 'a':
            rc = add_address(c, optarg);
            if (rc != ST_OK)
                return rc;
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
        case 'p': c->prefix = true; break;
        case OPT_LEVEL:
            if (strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0)
                return usage_error("bad --level '%s': want 1 or 2", optarg);
            c->level = (unsigned)(optarg[0] - '0');
            break;
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
        case OPT_NO_RECONNECT:
        case OPT_RECONNECT_DELAY:
        case OPT_RECONNECT_MAX_DELAY:
        case OPT_RECONNECT_ATTEMPTS:
            rc = reconnect_option(c, opt, optarg);
            if (rc != ST_OK)
                return rc;
            break;
        case ':': return missing_argument(argv[optind - 1]);
        default: return unknown_option(argv[optind - 1]);
        }
    }
    if (arg_secret != NULL && secret_file != NULL)
        return usage_error("-s and -S exclude each other: give the secret "
                           "once");
    rc = parse_command(c, argc - optind, argv + optind);
    /* A listener or a watcher outlives a broker restart; connect's
     * conversation cannot, and list is over in a moment. */
    c->reconnect = !c->no_reconnect && (c->mode == MODE_LISTEN ||
                                     c->mode == MODE_WATCH);
    if (rc == ST_OK && c->mode == MODE_REQUEST && !wait_given)
        c->wait_s = REQUEST_WAIT_S;
    if (rc == ST_OK)
        rc = check_combination(c, wait_given);
    if (rc == ST_OK)
        rc = check_names(c);
    if (rc == ST_OK)
        rc = resolve_secret(c, arg_secret, secret_file);
    return rc == ST_OK ? -1 : rc;
}
