/* cluster.c - brokers sharing a real Redis, and a socat proxy (see
 * cluster.h). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cluster.h"

#define SECRET "mpbroker-test-cluster-secret-0123456789"

/* Live clusters and proxies, for mpt_cluster_reap_all(). */
#define MAX_LIVE 8
static struct mpt_cluster *live_clusters[MAX_LIVE];
static struct mpt_proxy *live_proxies[MAX_LIVE];
static char *bodies[MAX_LIVE][MPT_CLUSTER_MAX];
static const char *passwords[MAX_LIVE][MPT_CLUSTER_MAX]; /* the test's */

static int slot_of(const struct mpt_cluster *c)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live_clusters[i] == c)
            return i;
    }
    return -1;
}

/* With opts.gob the broker's whole config is written here: the harness's
 * prologue names the json and binary translators only. */
static bool whole_config[MAX_LIVE];

#define GOB_PROLOGUE                                                        \
    "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"                  \
    "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n" \
    "                { name = \"binary\"; module = \"translator_binary.so\"; },\n" \
    "                { name = \"gob\"; module = \"translator_gob.so\"; } );\n"
#define GOB_LISTENERS                                                       \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n" \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; },\n" \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"gob\"; } );\n"

static char *config_body(const struct mpt_cluster *c,
                         const char *redis, int link_port,
                         int advertise_port,
                         const struct mpt_cluster_opts *o)
{
    bool gob = o && o->gob;
    char *body = NULL;
    int n = asprintf(
        &body,
        "%s" MPT_AUTH_ALLOW_ALL "%s"
        "%s\n"
        "cluster = {\n"
        "  redis = \"%s\";\n"
        "  key_prefix = \"%s\";\n"
        "  lease_ms = %d; fence_ms = %d; renew_ms = %d;\n"
        "  redis_timeout_ms = %d;\n"
        "  %s\n"
        "  %s\n"
        "  link = { address = \"127.0.0.1\"; port = %d;"
        " advertise_port = %d;\n"
        "           secret_file = \"@DIR@/cluster.secret\";\n"
        "           ping_ms = %d; timeout_ms = %d; %s };\n"
        "};\n",
        gob ? GOB_PROLOGUE : "", gob ? GOB_LISTENERS : MPT_LISTEN_JSON_BINARY,
        o && o->extra ? o->extra : "", redis, c->prefix,
        mpt_ms(MPT_CLUSTER_LEASE_MS), mpt_ms(MPT_CLUSTER_FENCE_MS),
        mpt_ms(MPT_CLUSTER_RENEW_MS), mpt_ms(MPT_CLUSTER_REDIS_TIMEOUT_MS),
        o && o->cluster_extra ? o->cluster_extra : "",
        o && o->redis_password
            ? "redis_password_file = \"@DIR@/redis.password\";" : "",
        link_port, advertise_port,
        mpt_ms(MPT_CLUSTER_LINK_PING_MS), mpt_ms(MPT_CLUSTER_LINK_TIMEOUT_MS),
        o && o->link_extra ? o->link_extra : "");

    cr_assert(n > 0, "asprintf");
    return body;
}

static struct harness *boot_broker(const char *body, bool whole,
                                   const char *password, bool wait)
{
    struct harness *h = harness_new();

    if (password != NULL)
        cr_assert(chmod(harness_write_file(h, "redis.password", password),
                        0600) == 0);
    /* Mode 600, as the broker wants it (it warns otherwise). */
    cr_assert(chmod(harness_write_file(h, "cluster.secret", SECRET "\n"),
                    0600) == 0);
    if (whole) {
        harness_launch(h, harness_write_file(h, "mpbroker.conf", body));
        cr_assert(harness_wait_ready(h, mpt_ms(MPT_READY_MS)),
                  "a broker did not become ready");
    } else {
        harness_boot(h, body);
    }
    if (wait)
        cr_assert(harness_wait_log(h, "cluster: registered", mpt_ms(10000)),
                  "a broker did not register with Redis");
    return h;
}

struct mpt_cluster *mpt_cluster_start(size_t n,
                                      const struct mpt_cluster_opts *o)
{
    static unsigned serial;
    struct mpt_cluster *c = calloc(1, sizeof *c);
    int slot = slot_of(NULL);

    cr_assert(c != NULL && slot >= 0 && n <= MPT_CLUSTER_MAX);
    live_clusters[slot] = c;
    whole_config[slot] = o && o->gob;
    c->n = n;
    snprintf(c->prefix, sizeof c->prefix, "t%ld-%u", (long)getpid(),
             serial++);
    c->redis = redis_server_start();
    cr_assert(c->redis != NULL, "cannot start redis-server");
    if (o != NULL && o->redis_password != NULL) {
        struct redisReply *r = redis_server_command(
            c->redis, "CONFIG SET requirepass %s", o->redis_password);
        cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    for (size_t i = 0; i < n; i++) {
        const char *redis = redis_server_address(c->redis);
        int link_port = 0, advertise_port = 0;

        if (o != NULL && o->redis_proxy[i]) {
            c->redis_proxy[i] = mpt_proxy_start(redis_server_port(c->redis));
            redis = mpt_proxy_address(c->redis_proxy[i]);
        }
        if (o != NULL && o->link_proxy[i]) {
            link_port = mpt_free_port();
            c->link_proxy[i] = mpt_proxy_start(link_port);
            advertise_port = mpt_proxy_port(c->link_proxy[i]);
        }
        bodies[slot][i] = config_body(c, redis, link_port, advertise_port,
                                      o);
        passwords[slot][i] = o == NULL ? NULL
                             : o->wrong_password[i] ? o->wrong_password[i]
                                                    : o->redis_password;
        c->broker[i] = boot_broker(bodies[slot][i], whole_config[slot],
                                   passwords[slot][i],
                                   o == NULL || !o->wrong_password[i]);
    }
    return c;
}

void mpt_cluster_kill9(struct mpt_cluster *c, size_t i)
{
    int status;

    harness_signal(c->broker[i], SIGKILL);
    harness_wait_exit(c->broker[i], mpt_ms(MPT_EXIT_MS), &status);
}

void mpt_cluster_restart_broker(struct mpt_cluster *c, size_t i)
{
    int slot = slot_of(c);

    harness_free(c->broker[i]);
    c->broker[i] = boot_broker(bodies[slot][i], whole_config[slot],
                               passwords[slot][i], true);
}

int mpt_cluster_link_port(struct mpt_cluster *c, size_t i)
{
    char *log = harness_log_text(c->broker[i]);
    const char *at = strstr(log, "cluster link listening on ");
    const char *colon;
    int port = -1;

    cr_assert(at != NULL, "no 'cluster link listening on' line");
    colon = strchr(at, '\n');
    for (const char *p = colon ? colon : at + strlen(at); p > at; p--) {
        if (*p == ':') {
            port = atoi(p + 1);
            break;
        }
    }
    free(log);
    cr_assert(port > 0);
    return port;
}

char *mpt_cluster_get(struct mpt_cluster *c, const char *key)
{
    struct redisReply *r = redis_server_command(c->redis, "GET {%s}:%s",
                                                c->prefix, key);
    char *value;

    cr_assert(r != NULL, "Redis did not answer GET");
    value = strdup(r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    cr_assert(value != NULL);
    return value;
}

static void forget_cluster(struct mpt_cluster *c)
{
    int slot = slot_of(c);

    if (slot < 0)
        return;
    live_clusters[slot] = NULL;
    for (size_t i = 0; i < MPT_CLUSTER_MAX; i++) {
        free(bodies[slot][i]);
        bodies[slot][i] = NULL;
        passwords[slot][i] = NULL;
    }
}

void mpt_cluster_stop(struct mpt_cluster *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->broker[i] != NULL)
            harness_stop(c->broker[i]);
        c->broker[i] = NULL;
    }
    mpt_cluster_free(c);
}

void mpt_cluster_free(struct mpt_cluster *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        harness_free(c->broker[i]);
        mpt_proxy_free(c->redis_proxy[i]);
        mpt_proxy_free(c->link_proxy[i]);
    }
    redis_server_free(c->redis);
    forget_cluster(c);
    free(c);
}

/* ------------------------------------------------------------------------
 * The proxy
 */

struct mpt_proxy {
    pid_t pid;  /* the socat process, leader of its own group */
    int port;
    char address[64];
};

int mpt_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0);
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static bool can_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

struct mpt_proxy *mpt_proxy_start(int target_port)
{
    struct mpt_proxy *p = calloc(1, sizeof *p);
    char listen[96], target[96];
    long long deadline = mpt_now_ms() + mpt_ms(5000);
    int slot = -1;

    cr_assert(p != NULL);
    for (int i = 0; i < MAX_LIVE && slot < 0; i++) {
        if (live_proxies[i] == NULL)
            slot = i;
    }
    cr_assert(slot >= 0, "too many proxies");
    p->port = mpt_free_port();
    snprintf(p->address, sizeof p->address, "tcp:127.0.0.1:%d", p->port);
    snprintf(listen, sizeof listen,
             "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork", p->port);
    snprintf(target, sizeof target, "TCP:127.0.0.1:%d", target_port);
    p->pid = fork();
    cr_assert(p->pid >= 0);
    if (p->pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("socat", "socat", listen, target, (char *)NULL);
        _exit(127);
    }
    setpgid(p->pid, p->pid);
    live_proxies[slot] = p;
    while (!can_connect(p->port)) {
        cr_assert(mpt_now_ms() < deadline, "socat did not start");
        usleep(10000); /* polling for a port, bounded by the deadline */
    }
    return p;
}

int mpt_proxy_port(const struct mpt_proxy *p)
{
    return p->port;
}

const char *mpt_proxy_address(const struct mpt_proxy *p)
{
    return p->address;
}

void mpt_proxy_pause(struct mpt_proxy *p)
{
    killpg(p->pid, SIGSTOP);
}

void mpt_proxy_resume(struct mpt_proxy *p)
{
    killpg(p->pid, SIGCONT);
}

void mpt_proxy_free(struct mpt_proxy *p)
{
    if (p == NULL)
        return;
    killpg(p->pid, SIGKILL);
    killpg(p->pid, SIGCONT);
    waitpid(p->pid, NULL, 0);
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live_proxies[i] == p)
            live_proxies[i] = NULL;
    }
    free(p);
}

void mpt_cluster_skip_if_wrapped(void)
{
    const char *w = getenv("MP_BROKER_WRAPPER");

    if (w != NULL && *w != '\0')
        cr_skip_test("bounded by leases and fence times: run plain and "
                     "under AddressSanitizer, not under %s", w);
}

void mpt_cluster_reap_all(void)
{
    /* Clusters first: they free their own proxies. */
    for (int i = 0; i < MAX_LIVE; i++)
        mpt_cluster_free(live_clusters[i]);
    for (int i = 0; i < MAX_LIVE; i++)
        mpt_proxy_free(live_proxies[i]);
    harness_reap_all();
    redis_server_reap_all();
}
