/*
 * harness.h - start the real mpbroker for an integration test.
 *
 * A harness owns a fresh temporary directory, a config file written into
 * it, and one broker process started from $MPBROKER (optionally under
 * $MP_BROKER_WRAPPER, e.g. "valgrind --error-exitcode=99"). A reader thread
 * collects every line the broker writes on stderr, so a test can wait for a
 * log line, and learns the actual port of each listener from the
 * "info: listening on ..." lines (tests configure port = 0).
 *
 * Placeholders expanded in every text written through the harness:
 *   @DIR@              the harness's temporary directory
 *   @PLUGIN_DIR@       $MP_PLUGIN_BUILD_DIR (the shipped plugins)
 *   @TEST_PLUGIN_DIR@  $MP_TEST_PLUGIN_DIR (auth_delayed.so, bad_abi.so)
 *
 * Functions whose names end in nothing special return a status; the
 * harness_start()/harness_stop() pair asserts with criterion, so they must
 * be called from a test body.
 */
#ifndef MP_TEST_HARNESS_H
#define MP_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Default time limits, in milliseconds, before scaling (see mpt_ms). */
#define MPT_READY_MS 5000
#define MPT_EXIT_MS 5000
#define MPT_MSG_MS 3000

/* Authenticator and listener snippets for config bodies. */
#define MPT_AUTH_ALLOW_ALL \
    "authenticators = ( { module = \"auth_allow_all.so\"; } );\n"
#define MPT_SECRET_ALLOW_ALL "No password needed!"
/* Listener 0 speaks json, listener 1 binary. */
#define MPT_LISTEN_JSON_BINARY \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n" \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"

struct harness;

struct harness_listener {
    bool is_unix;
    char host[64];     /* "127.0.0.1" or "::1" (without brackets) */
    int port;
    char path[256];    /* Unix socket path */
    char translator[64];
    bool is_tls;       /* a TCP listener speaking TLS */
    bool is_websocket; /* a TCP listener speaking WebSocket (ws:, wss:) */
};

/* The outcome of a short-lived broker run (mpbroker -t, -v, -h, ...). */
struct run_result {
    int exit_code;     /* exit status, or -1 if killed by a signal */
    int signal;        /* the signal that killed it, or 0 */
    bool timed_out;
    char *out;         /* all of stdout, NUL-terminated */
    char *err;         /* all of stderr, NUL-terminated */
};

/* Scale a time limit: multiplied by $MP_TEST_TIMEOUT_SCALE, or by 20 when
 * the broker or the test itself runs under valgrind ($MP_BROKER_WRAPPER,
 * $MP_TEST_WRAPPER). */
int mpt_ms(int ms);

/* Milliseconds on the monotonic clock (for deadlines). */
long long mpt_now_ms(void);

/* Make fd non-blocking; asserts that it worked (call from a test body). */
void mpt_set_nonblocking(int fd);

/* A fresh harness with its temporary directory; no broker yet. Asserts. */
struct harness *harness_new(void);
const char *harness_dir(const struct harness *h);

/* DIR/name; the string lives as long as the harness. */
const char *harness_path(struct harness *h, const char *name);

/* Write DIR/name with placeholders expanded; return its path. Asserts. */
const char *harness_write_file(struct harness *h, const char *name,
                               const char *text);

/* Write DIR/mpbroker.conf: plugin_dir and the json/binary translators
 * (HARNESS_PROLOGUE_LINES lines) followed by `body`. Return its path. */
#define HARNESS_PROLOGUE_LINES 5
const char *harness_write_config(struct harness *h, const char *body);

/* Start "$MPBROKER -c config" (no waiting). Asserts that fork works. */
void harness_launch(struct harness *h, const char *config_path);

/* Wait for "notice: ready"; false on timeout or if the broker exited. */
bool harness_wait_ready(struct harness *h, int timeout_ms);

/* write_config(body) + launch + wait_ready, asserting each step. */
void harness_boot(struct harness *h, const char *body);
/* harness_new() + harness_boot(). */
struct harness *harness_start(const char *body);
/* harness_start() with MPT_LISTEN_JSON_BINARY, MPT_AUTH_ALLOW_ALL and
 * then `extra`. */
struct harness *harness_start_allow_all(const char *extra);

/* The log: lines are numbered from 0 in arrival order. */
size_t harness_log_mark(struct harness *h);
bool harness_wait_log(struct harness *h, const char *substring,
                      int timeout_ms);
bool harness_wait_log_from(struct harness *h, size_t mark,
                           const char *substring, int timeout_ms);
bool harness_log_contains(struct harness *h, const char *substring);
/* All lines joined with '\n'; the caller frees it. */
char *harness_log_text(struct harness *h);

size_t harness_listener_count(struct harness *h);
/* Copy of listener i (config order). Asserts that it exists. */
struct harness_listener harness_listener(struct harness *h, size_t i);

pid_t harness_pid(const struct harness *h);
/* A field of /proc/<broker>/status in KiB ("VmRSS", "VmHWM"). Asserts. */
long harness_broker_kib(struct harness *h, const char *field);
/* CPU time the broker has used (user + system), in milliseconds. */
long long harness_broker_cpu_ms(struct harness *h);
/* Under valgrind ($MP_BROKER_WRAPPER) or AddressSanitizer (its shadow
 * memory and quarantine of freed blocks) the broker's RSS says nothing
 * about its own use of memory: RSS bounds are only checked in a plain
 * build, which CI runs too. */
bool harness_rss_unreliable(void);
bool harness_signal(struct harness *h, int sig);
/* Wait for the broker to exit; store its waitpid status. */
bool harness_wait_exit(struct harness *h, int timeout_ms, int *status);

/* Start the broker again in the same directory (a restart): kill it if
 * it still runs, then launch config_path and wait for its "notice:
 * ready" (false on timeout or exit). The log goes on from where it was;
 * the listeners are learned anew (port = 0 gives new ports: write a
 * config with the old ones to keep them). */
bool harness_relaunch(struct harness *h, const char *config_path,
                      int timeout_ms);

/* SIGTERM, wait, assert a clean exit with status 0, then free. */
void harness_stop(struct harness *h);
/* Kill the broker if it still runs, remove the directory, free. */
void harness_free(struct harness *h);
/* Free every harness still alive: use as a criterion .fini. */
void harness_reap_all(void);

/*
 * Run $MPBROKER (under the wrapper) with args (NULL-terminated), capture
 * stdout, stderr and the exit code. Returns false if it could not be
 * started or ran past timeout_ms (then it is killed).
 */
bool harness_run(const char *const *args, int timeout_ms,
                 struct run_result *r);
void run_result_free(struct run_result *r);

/* "name:HASH" with a crypt(3) sha512 hash of secret; the caller frees. */
char *harness_passwd_entry(const char *name, const char *secret);

#endif
