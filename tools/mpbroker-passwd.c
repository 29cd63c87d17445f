/*
 * mpbroker-passwd - add, change or delete a user of an auth_passwd file.
 *
 *     mpbroker-passwd [-c] [-S SECRETFILE] FILE NAME
 *     mpbroker-passwd [-c] -b FILE NAME SECRET
 *     mpbroker-passwd -D FILE NAME
 *
 * The secret comes from standard input: asked twice with echo off when it
 * is a terminal, else the first line (its newline removed); or from
 * SECRETFILE with -S (its content less one trailing newline, as mpcat -S;
 * "-" is standard input read the same way); or, with -b, from the command
 * line (with a warning: ps(1) shows it). -c starts FILE over, holding
 * only NAME, as mosquitto_passwd -c. The secret is never printed, and
 * every buffer that held it is wiped before exit.
 *
 * Exit status: 0 done, 1 error, 2 usage error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "passwd_update.h"

#define PROG "mpbroker-passwd"

/* Room for the longest secret crypt(3) takes, and one byte more to tell a
 * secret that is too long. */
struct secret {
    unsigned char buf[MP_PASSWD_SECRET_MAX + 1];
    size_t len;     /* bytes kept in buf */
    bool too_long;  /* more bytes came than buf holds */
};

static void secret_wipe(struct secret *s)
{
    explicit_bzero(s, sizeof *s);
}

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void error(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define USAGE                                                                 \
    "usage: " PROG " [-c] [-S SECRETFILE] FILE NAME\n"                        \
    "       " PROG " [-c] -b FILE NAME SECRET\n"                              \
    "       " PROG " -D FILE NAME\n"                                          \
    "       " PROG " -h | -v\n"

static void help(void)
{
    fputs(USAGE
          "\n"
          "Add NAME to the auth_passwd FILE, or change its secret. The secret\n"
          "is read from standard input: asked twice without echo on a\n"
          "terminal, else the first line. FILE is created with mode 0600 if\n"
          "it does not exist; an existing FILE keeps its mode and owner.\n"
          "\n"
          "  -c, --create        start FILE over, holding only NAME (as\n"
          "                      mosquitto_passwd -c): an existing FILE's users\n"
          "                      are lost, its mode and owner kept\n"
          "  -S, --secret-file SECRETFILE\n"
          "                      read the secret from SECRETFILE: its content,\n"
          "                      less one trailing newline (as mpcat -S);\n"
          "                      - is standard input, read the same way\n"
          "  -b, --batch         the secret is the argument after NAME;\n"
          "                      WARNING: other users can see it in ps(1), and\n"
          "                      it stays in the shell's history: prefer -S\n"
          "  -D, --delete        delete NAME from FILE (no secret is read)\n"
          "  -h, --help          print this help\n"
          "  -v, --version       print the version\n",
          stdout);
}

static int usage_error(void)
{
    fputs(USAGE, stderr);
    return 2;
}

/* ---------------------------------------------------------------------- */
/* Reading a line */

enum read_status { READ_LINE, READ_EOF, READ_ERROR, READ_SIGNAL };

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

/*
 * Read one line from fd into s, a byte at a time: nothing past the newline
 * is consumed, and no stdio buffer keeps a copy of the secret. Bytes past
 * the room in s are read and dropped, setting s->too_long.
 */
static enum read_status read_line(int fd, struct secret *s)
{
    bool any = false;

    s->len = 0;
    s->too_long = false;
    for (;;) {
        unsigned char c;
        ssize_t n = read(fd, &c, 1);

        if (n < 0 && errno == EINTR) {
            if (got_signal != 0)
                return READ_SIGNAL;
            continue;
        }
        if (n < 0)
            return READ_ERROR;
        if (n == 0)
            return any ? READ_LINE : READ_EOF;
        any = true;
        if (c == '\n')
            return READ_LINE;
        if (s->len < sizeof s->buf)
            s->buf[s->len++] = c;
        else
            s->too_long = true;
        explicit_bzero(&c, sizeof c);
    }
}

/* ---------------------------------------------------------------------- */
/* The terminal */

/* Signals that would otherwise leave the terminal without echo. Job
 * control stops (^Z) are left alone: the shell restores its own modes. */
static const int caught_signals[] = { SIGINT, SIGHUP, SIGQUIT, SIGTERM };
#define N_CAUGHT (sizeof caught_signals / sizeof caught_signals[0])

struct terminal {
    int in, out;   /* /dev/tty twice, or stdin and stderr */
    bool opened;   /* in was opened here */
    struct termios saved;
    struct sigaction old_actions[N_CAUGHT];
};

static int terminal_open(struct terminal *t)
{
    struct sigaction sa;

    t->in = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    t->opened = t->in >= 0;
    if (!t->opened)
        t->in = STDIN_FILENO;
    t->out = t->opened ? t->in : STDERR_FILENO;
    if (tcgetattr(t->in, &t->saved) < 0) {
        if (t->opened)
            close(t->in);
        return -1;
    }
    /* No SA_RESTART: a signal must interrupt the read so that the
     * terminal's echo is restored before the process dies. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_CAUGHT; i++) {
        sigaction(caught_signals[i], NULL, &t->old_actions[i]);
        /* A signal ignored by whoever started us (nohup, `&`) stays so. */
        if (t->old_actions[i].sa_handler != SIG_IGN)
            sigaction(caught_signals[i], &sa, NULL);
    }
    return 0;
}

/* Undo terminal_open(). */
static void terminal_close(struct terminal *t)
{
    for (size_t i = 0; i < N_CAUGHT; i++)
        sigaction(caught_signals[i], &t->old_actions[i], NULL);
    if (t->opened)
        close(t->in);
}

static void write_str(int fd, const char *s)
{
    size_t len = strlen(s);

    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* only a prompt: nothing to do about it */
        s += n;
        len -= (size_t)n;
    }
}

/* Prompt, then read a line with echo off. */
static enum read_status ask(struct terminal *t, const char *prompt,
                            struct secret *s)
{
    struct termios noecho = t->saved;
    enum read_status st;

    write_str(t->out, prompt);
    noecho.c_lflag &= ~(tcflag_t)ECHO;
    if (tcsetattr(t->in, TCSAFLUSH, &noecho) < 0)
        return READ_ERROR;
    st = read_line(t->in, s);
    tcsetattr(t->in, TCSAFLUSH, &t->saved);
    write_str(t->out, "\n"); /* the one the user typed was not echoed */
    return st;
}

static bool same_secret(const struct secret *a, const struct secret *b)
{
    return a->len == b->len && a->too_long == b->too_long &&
           memcmp(a->buf, b->buf, a->len) == 0;
}

/* Check a secret just read; 0 if it can be hashed. */
static int secret_check(const struct secret *s)
{
    if (s->too_long) {
        error("the secret is longer than %d bytes", MP_PASSWD_SECRET_MAX);
        return -1;
    }
    if (s->len == 0) {
        error("the secret is empty");
        return -1;
    }
    if (memchr(s->buf, '\0', s->len) != NULL) {
        error("the secret contains a NUL byte");
        return -1;
    }
    return 0;
}

static int report_read(enum read_status st, const char *where)
{
    switch (st) {
    case READ_LINE:
        return 0;
    case READ_EOF:
        error("no secret on %s", where);
        return -1;
    case READ_SIGNAL:
        return -1; /* the caller dies of the signal */
    case READ_ERROR:
    default:
        error("cannot read the secret from %s: %s", where, strerror(errno));
        return -1;
    }
}

/* Ask twice on the terminal. 0 with the secret in *s, or -1. */
static int read_secret_tty(struct secret *s)
{
    struct terminal t;
    struct secret again;
    int rc = -1;

    if (terminal_open(&t) < 0) {
        error("cannot use the terminal: %s", strerror(errno));
        return -1;
    }
    memset(&again, 0, sizeof again);
    if (report_read(ask(&t, "Secret: ", s), "the terminal") < 0 ||
        secret_check(s) < 0)
        goto done;
    if (report_read(ask(&t, "Retype secret: ", &again), "the terminal") < 0)
        goto done;
    if (!same_secret(s, &again)) {
        error("the secrets do not match");
        goto done;
    }
    rc = 0;
done:
    secret_wipe(&again);
    terminal_close(&t);
    if (got_signal != 0) {
        /* Die of it, as without our handler, now that the terminal
         * echoes again and no secret is left in memory. */
        secret_wipe(s);
        raise(got_signal);
        rc = -1;
    }
    return rc;
}

/*
 * Read all of fd into s, as mpcat -S reads a secret file: the content,
 * less one trailing newline. Bytes past the room in s set s->too_long.
 */
static int read_secret_fd(int fd, const char *shown, struct secret *s)
{
    s->len = 0;
    s->too_long = false;
    for (;;) {
        unsigned char extra;
        bool full = s->len == sizeof s->buf;
        ssize_t n = full ? read(fd, &extra, 1)
                         : read(fd, s->buf + s->len, sizeof s->buf - s->len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error("cannot read the secret from %s: %s", shown, strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        if (full) {
            /* One byte more than a secret and its newline: too long. The
             * rest is not read (it could be endless). */
            explicit_bzero(&extra, sizeof extra);
            s->too_long = true;
            break;
        }
        s->len += (size_t)n;
    }
    if (!s->too_long && s->len > 0 && s->buf[s->len - 1] == '\n')
        s->buf[--s->len] = '\0';
    if (s->len > MP_PASSWD_SECRET_MAX)
        s->too_long = true;
    if (!s->too_long && s->len == 0) {
        error("no secret in %s", shown);
        return -1;
    }
    return secret_check(s);
}

static int read_secret_file(const char *path, struct secret *s)
{
    int fd, rc;

    if (strcmp(path, "-") == 0)
        return read_secret_fd(STDIN_FILENO, "standard input", s);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error("%s: %s", path, strerror(errno));
        return -1;
    }
    rc = read_secret_fd(fd, path, s);
    close(fd);
    return rc;
}

/* -b: the secret from the command line. The argument is blanked at once,
 * which shortens the time ps(1) shows it but cannot undo what it showed. */
static int take_secret_arg(char *arg, struct secret *s)
{
    size_t len = strlen(arg);

    error("warning: a secret on the command line can be seen by other "
          "users (ps, /proc) and stays in the shell's history; prefer -S "
          "FILE or standard input");
    s->too_long = len > MP_PASSWD_SECRET_MAX;
    s->len = s->too_long ? 0 : len;
    if (!s->too_long)
        memcpy(s->buf, arg, len);
    explicit_bzero(arg, len);
    return secret_check(s);
}

static int read_secret(struct secret *s)
{
    if (isatty(STDIN_FILENO))
        return read_secret_tty(s);
    if (report_read(read_line(STDIN_FILENO, s), "standard input") < 0)
        return -1;
    return secret_check(s);
}

/* ---------------------------------------------------------------------- */

/* Where the secret comes from: -b's argument, -S's file, else stdin. */
struct secret_source {
    char *arg;        /* -b: the argument after NAME */
    const char *file; /* -S */
};

static int get_secret(const struct secret_source *src, struct secret *s)
{
    if (src->arg != NULL)
        return take_secret_arg(src->arg, s);
    if (src->file != NULL)
        return read_secret_file(src->file, s);
    return read_secret(s);
}

static int set_user(const char *file, const char *name, bool create,
                    const struct secret_source *src)
{
    char hash[MP_PASSWD_HASH_MAX], err[512];
    struct secret s;
    struct mp_passwd *pw;
    int rc;

    /* Say a file is broken before asking for a secret, not after (-c
     * replaces it, broken or not). */
    if (!create && access(file, F_OK) == 0) {
        if (mp_passwd_load(file, &pw, err, sizeof err) < 0) {
            error("%s", err);
            return -1;
        }
        mp_passwd_free(pw);
    }
    memset(&s, 0, sizeof s);
    if (get_secret(src, &s) < 0) {
        secret_wipe(&s);
        return -1;
    }
    rc = mp_passwd_hash(s.buf, s.len, NULL, hash, sizeof hash, err,
                        sizeof err);
    secret_wipe(&s);
    if (rc == 0)
        rc = create ? mp_passwd_create(file, name, hash, err, sizeof err)
                    : mp_passwd_update(file, name, hash, err, sizeof err);
    if (rc < 0)
        error("%s", err);
    return rc;
}

static int delete_user(const char *file, const char *name)
{
    char err[512];

    if (mp_passwd_update(file, name, NULL, err, sizeof err) < 0) {
        error("%s", err);
        return -1;
    }
    return 0;
}

static const struct option long_options[] = {
    { "create", no_argument, NULL, 'c' },
    { "batch", no_argument, NULL, 'b' },
    { "secret-file", required_argument, NULL, 'S' },
    { "delete", no_argument, NULL, 'D' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
    struct secret_source src = { NULL, NULL };
    const char *file, *name, *why;
    bool want_delete = false, create = false, batch = false;
    int c, args;

    opterr = 0; /* getopt would name argv[0], not PROG */
    while ((c = getopt_long(argc, argv, ":DcbS:hv", long_options, NULL)) !=
           -1) {
        switch (c) {
        case 'D':
            want_delete = true;
            break;
        case 'c':
            create = true;
            break;
        case 'b':
            batch = true;
            break;
        case 'S':
            src.file = optarg;
            break;
        case 'h':
            help();
            return 0;
        case 'v':
            printf("%s (mpbroker) %s\n", PROG, PACKAGE_VERSION);
            return 0;
        case ':':
            error("option %s needs an argument", argv[optind - 1]);
            return usage_error();
        default:
            if (optopt != 0)
                error("unknown option -%c", optopt);
            else
                error("unknown option %s", argv[optind - 1]);
            return usage_error();
        }
    }
    if (want_delete && (create || batch || src.file != NULL)) {
        error("-D reads no secret and writes no new file: not with -c, -b "
              "or -S");
        return usage_error();
    }
    if (batch && src.file != NULL) {
        error("one secret at a time: -b or -S, not both");
        return usage_error();
    }
    args = batch ? 3 : 2;
    if (argc - optind != args) {
        if (!batch && argc - optind == 3)
            error("a third argument is only for -b (the secret)");
        return usage_error();
    }
    file = argv[optind];
    name = argv[optind + 1];
    if (batch)
        src.arg = argv[optind + 2];
    why = mp_passwd_name_check(name, strlen(name));
    if (why != NULL) {
        if (batch)
            explicit_bzero(src.arg, strlen(src.arg));
        error("invalid name: %s", why);
        return 1;
    }
    if (want_delete)
        return delete_user(file, name) < 0 ? 1 : 0;
    return set_user(file, name, create, &src) < 0 ? 1 : 0;
}
