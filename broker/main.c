/*
 * main.c - mpbroker: command line, start-up, the event loop and a clean
 * exit on SIGINT/SIGTERM.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth_chain.h"
#include "broker.h"
#include "cluster.h"
#include "listener.h"
#include "log.h"
#include "malloc_tune.h"
#include "metrics.h"
#include "notify.h"
#include "privileges.h"
#include "reload.h"
#include "session.h"
#include "shutdown.h"
#include "tls.h"
#include "user_check.h"
#include "work_pool.h"
#include "xalloc.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_CONFIG = 1, /* bad config, or could not start */
    EXIT_USAGE = 2,
};

static void usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "usage: %s [-t] [-c FILE]\n"
            "       %s -v | -h\n"
            "\n"
            "  -c FILE  configuration file (default %s)\n"
            "  -t       check the configuration (and load its plugins), "
            "then exit\n"
            "  -v       print the version and exit\n"
            "  -h       print this help and exit\n"
            "\n"
            "Runs in the foreground and logs to stderr (or syslog, see "
            "log.syslog).\nSIGINT or SIGTERM stop it after flushing "
            "every client; SIGHUP reloads the\nconfiguration file "
            "(see mpbroker(8)).\n",
            argv0, argv0, MP_DEFAULT_CONFIG);
}

/* SIGINT/SIGTERM: the orderly end (shutdown.h). A second signal exits
 * at once. */
static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
    struct broker *b = arg;

    (void)what;
    if (b->shutting_down) {
        log_notice("received %s again, exiting now", strsignal((int)sig));
        event_base_loopbreak(b->base);
        return;
    }
    shutdown_begin(b, strsignal((int)sig));
}

/*
 * Descriptor planning: every client socket (max_clients), the metrics
 * listener's socket and connections (metrics_descriptors) and the
 * listening sockets, plus a reserve for the log, the event loop, plugins'
 * files and TLS. The soft RLIMIT_NOFILE is raised to cover it where the
 * hard limit allows; short of it, a warning names the settings (past the
 * limit, accept() fails and the listener pauses: accept_pause.h).
 */
enum { FD_RESERVE = 32 };

/* Leaving the cluster's registry at exit waits at most this long. */
enum { CLUSTER_LEAVE_MS = 1000 };

static void plan_descriptors(const struct broker *b)
{
    const struct broker_conf *c = &b->conf;
    rlim_t need = (rlim_t)c->max_clients + metrics_descriptors(c) +
                  c->n_listeners + FD_RESERVE;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
                      ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= need) {
        log_info("raised the descriptor limit (RLIMIT_NOFILE) to %llu",
                 (unsigned long long)need);
        return;
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    log_warn("the descriptor limit (RLIMIT_NOFILE) is %llu, but "
             "limits.max_clients (%u), metrics.max_connections (%u) and "
             "%zu listener%s need about %llu: raise it (LimitNOFILE= in "
             "the systemd unit) or lower max_clients",
             (unsigned long long)rl.rlim_cur, c->max_clients,
             c->metrics.entry != NULL ? c->metrics.max_connections : 0,
             c->n_listeners, c->n_listeners == 1 ? "" : "s",
             (unsigned long long)need);
}

/* SIGHUP: the config file again (reload.c); the plugins re-initialized
 * from it read their files again. If the file is broken, the running
 * configuration stays, and so do its plugins, which are then asked to
 * re-read their own files (ACL rules, password lists). */
static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
    struct broker *b = arg;
    unsigned failed;

    (void)sig;
    (void)what;
    if (b->shutting_down)
        return;
    log_notice("received SIGHUP: reloading %s", b->conf.file);
    service_notify("RELOADING=1");
    if (broker_reload(b) == 0) {
        plan_descriptors(b);
        service_notify("READY=1");
        log_notice("reload done");
        return;
    }
    failed = plugins_reload(&b->plugins);
    service_notify("READY=1");
    if (failed == 0)
        log_notice("reload done: the plugins re-read their files");
    else
        log_error("reload done; %u plugin%s kept their old data", failed,
                  failed == 1 ? "" : "s");
}

/* A broker and everything the config needs, in order. Errors go to
 * errs. Once the file is parsed, every step runs even after errors in the
 * ones before, so that one run reports every problem (a typo, a missing
 * plugin and a missing `user` at once, not in three rounds). *out is
 * the broker, whatever happened (NULL: no event loop). */
static int broker_setup(struct broker **out, const char *config_file,
                        bool quiet, struct errors *errs)
{
    struct broker *b = broker_new();
    struct plugin_services services;
    int rc;

    *out = b;
    if (b == NULL) {
        errors_add(errs, NULL, 0, "cannot create the event loop");
        return -1;
    }
    b->default_plugin_dir = MP_DEFAULT_PLUGIN_DIR;
    rc = conf_load(&b->conf, config_file, MP_DEFAULT_PLUGIN_DIR, errs);
    if (!b->conf.parsed)
        return -1;
    if (!quiet)
        mp_log_set_level(b->conf.log_level);
    if (privileges_check(&b->conf, errs) != 0)
        rc = -1;
    services = auth_chain_services(b->base);
    if (plugins_load(&b->plugins, &b->conf, &services, errs) != 0)
        rc = -1;
    if (cluster_setup(b, errs) != 0)
        rc = -1;
    return rc;
}

/* -t: load every listener's certificates and keys as starting would. */
static int check_tls(const struct broker_conf *conf, struct errors *errs)
{
    int rc = 0;

    for (size_t i = 0; i < conf->n_listeners; i++) {
        struct ssl_ctx_st *ctx;
        const struct tls_conf *tc = &conf->listeners[i].tls;
        /* Without cert or key, conf_load has said so already. */
        if (tc->entry == NULL || tc->cert == NULL || tc->key == NULL)
            continue;
        ctx = tls_server_new(tc, errs);
        if (ctx == NULL)
            rc = -1;
        tls_server_free(ctx);
    }
    return rc;
}

/* -t: everything starting would do short of binding, and what a reload
 * will read once root is gone. */
static int check_only(const char *config_file)
{
    struct broker *b;
    struct errors errs;
    struct user_check uc;
    int rc;

    errors_init(&errs);
    /* Plugins log through stderr; keep -t output to the verdict. */
    mp_log_set_level(MP_LOG_ERROR);
    broker_setup(&b, config_file, true, &errs);
    if (b != NULL && b->conf.parsed) {
        check_tls(&b->conf, &errs);
        uc = (struct user_check){.conf = &b->conf, .loaded = &b->plugins};
        privileges_check_as_user(&b->conf, user_check_run, &uc, &errs);
    }
    rc = errors_any(&errs) ? EXIT_CONFIG : EXIT_OK;
    if (rc != EXIT_OK)
        errors_print(&errs, stderr);
    else
        printf("configuration OK\n");
    broker_free(b);
    errors_free(&errs);
    return rc;
}

static int add_signal(struct broker *b, struct event **ev, int sig,
                      event_callback_fn cb)
{
    *ev = evsignal_new(b->base, sig, cb, b);
    return *ev != NULL && event_add(*ev, NULL) == 0 ? 0 : -1;
}

static int run(const char *config_file)
{
    struct broker *b;
    struct errors errs;
    struct event *signals[3] = {NULL, NULL, NULL};
    int rc = EXIT_CONFIG;

    errors_init(&errs);
    log_notice("mpbroker %s starting with %s", PACKAGE_VERSION, config_file);
    if (broker_setup(&b, config_file, false, &errs) != 0 ||
        broker_configure(b, &errs) != 0)
        goto out;
    if (add_signal(b, &signals[0], SIGINT, stop_cb) != 0 ||
        add_signal(b, &signals[1], SIGTERM, stop_cb) != 0 ||
        add_signal(b, &signals[2], SIGHUP, hup_cb) != 0) {
        errors_add(&errs, NULL, 0, "cannot watch signals");
        goto out;
    }
    b->stats.started = time(NULL);
    if (listeners_open(b, &errs) != 0 || metrics_open(b, &errs) != 0 ||
        cluster_start(b->cluster, &errs) != 0)
        goto out;
    plan_descriptors(b);
    if (b->conf.log_syslog) {
        /* The last line on stderr says where the others went. */
        log_notice("logging to syslog from now on");
        mp_log_to_syslog(b->conf.log_facility);
    }
    if (privileges_drop(&b->conf, &errs) != 0)
        goto out;
    log_notice("ready");
    service_notify("READY=1\nSTATUS=serving");
    if (event_base_dispatch(b->base) < 0)
        log_error("event loop failed");
    else
        rc = EXIT_OK;
    /* Our names go at once, not when our lease runs out. */
    cluster_leave(b->cluster, CLUSTER_LEAVE_MS);
out:
    for (size_t i = 0; i < 3; i++) {
        if (signals[i] != NULL)
            event_free(signals[i]);
    }
    if (errors_any(&errs)) {
        for (size_t i = 0; i < errs.count; i++)
            log_error("%s", errs.lines[i]);
        log_error("not started: fix the errors above (mpbroker -t -c %s "
                  "checks a config)", config_file);
    }
    broker_free(b);
    errors_free(&errs);
    if (rc == EXIT_OK)
        log_notice("stopped");
    mp_log_to_stderr();
    return rc;
}

int main(int argc, char **argv)
{
    const char *config_file = MP_DEFAULT_CONFIG;
    bool check = false;
    int opt;

    while ((opt = getopt(argc, argv, "c:thv")) != -1) {
        switch (opt) {
        case 'c':
            config_file = optarg;
            break;
        case 't':
            check = true;
            break;
        case 'h':
            usage(stdout, argv[0]);
            return EXIT_OK;
        case 'v':
            printf("mpbroker %s (plugin ABI %d, protocol level %d)\n",
                   PACKAGE_VERSION, MP_PLUGIN_ABI, MP_PROTOCOL_LEVEL);
            return EXIT_OK;
        default:
            usage(stderr, argv[0]);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr, argv[0]);
        return EXIT_USAGE;
    }
    /* Before libevent allocates anything (xalloc.h: the policy). */
    mp_tune_malloc();
    mp_xalloc_install_for_libevent();
    /* A client vanishing mid-write must not kill the broker. */
    signal(SIGPIPE, SIG_IGN);
    /* The journal stamps each line itself; anything else gets our stamp. */
    mp_log_set_timestamps(!mp_log_fd_is_journal(getenv("JOURNAL_STREAM"),
                                                STDERR_FILENO));
    return check ? check_only(config_file) : run(config_file);
}
