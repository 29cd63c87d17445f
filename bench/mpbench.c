/*
 * mpbench.c - one load generator for mpbroker and its peers.
 *
 *   mpbench -t TARGET -a HOST:PORT -w WORKLOAD [options]
 *   mpbench --free-ports N
 *   mpbench --wait-port HOST:PORT
 *
 * Targets are drivers (driver.h): mp-binary, mp-json, mp-protobuf, nats,
 * mqtt, redis, relay, and socat (a raw one-way relay: the receiver connects to
 * --receiver-address; throughput with 1 pair only). With
 * --receiver-address the receivers of any target with names connect to
 * another server than the senders: the second broker or node of a
 * cluster (pub/sub targets first wait until a message crosses each way:
 * wait_for_paths). Workloads:
 *   throughput  P sender->receiver pairs, S-byte messages, at most W in
 *               flight per pair, counted at the receivers; --send-mode
 *               batch writes many messages per system call (up to
 *               BATCH_BYTES), single exactly one, as a naive producer
 *               with TCP_NODELAY does
 *   latency     one pair, ping-pong (window 1): round trip percentiles
 *   connect     C connectors in parallel, each connect -> ready -> close;
 *               --procs N forks N generators that share them
 *   memory      the server's RSS before and after K idle ready clients
 * Each runs --reps times after a warm-up; the result is the median with
 * the spread (min..max). Every result is one "result key=value ..." line
 * on stdout (throughput lines add send_mode=, connect lines
 * bench_procs=; bench_cpu is mpbench's CPU in % of one core, summed over
 * its processes), then a human-readable row.
 *
 * The generator must outrun what it measures, so it does its own socket
 * I/O (no bufferevents): each client encodes its message once, through
 * its driver, into a template of repeated messages and writes slices of
 * it; reads go into one flat buffer per client, which the driver walks
 * in place, keeping only a partial tail. Measured against the relay at
 * 4 KiB: 1.8 to 2.1 us of generator CPU per message, against 3.2 to
 * 3.6 us with bufferevents; what is left is the kernel's copies and TCP (perf: under
 * 2 % of it in mpbench's own code).
 *
 * Single-threaded on purpose (but for --procs): the generator's cost per
 * message is the same for every target, and compare.sh gives it a core
 * of its own.
 */
#define _GNU_SOURCE
#include "driver.h"
#include "histogram.h"
#include "malloc_tune.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#define MAX_REPS 15
#define MAX_PROCS 64
/* A cluster's server side: its brokers (or nodes) and its registry. */
#define MAX_SERVER_PIDS 8

/* A batch write takes up to BATCH_BYTES of a client's template and a
 * read up to READ_BYTES: at 4 KiB, 64 messages a system call, where
 * bufferevents wrote 16 KiB and read 4 KiB at a time. */
#define BATCH_BYTES (256u << 10)
#define READ_BYTES (256u << 10)

enum send_mode { SEND_BATCH, SEND_SINGLE };
static const char *const send_mode_names[] = {"batch", "single"};

enum workload { THROUGHPUT, LATENCY, CONNECT, MEMORY };
static const char *const workload_names[] = {"throughput", "latency", "connect", "memory"};

struct options {
    const struct bench_driver *driver;
    const char *address, *receiver_address;
    enum workload workload;
    enum send_mode send_mode;
    size_t size;
    unsigned pairs, window, reps, clients, concurrency, procs;
    double duration, warmup;
    /* Whose CPU is the server's (summed: a cluster is several processes);
     * the first is the one whose RSS the memory workload reads. */
    long server_pids[MAX_SERVER_PIDS];
    unsigned n_server_pids;
};

/* One repetition of a workload: its clients and what they counted. */
struct run {
    const struct options *opt;
    struct event_base *base;
    struct sockaddr_storage addr, receiver_addr;
    int addrlen, receiver_addrlen;
    unsigned tag;                 /* makes names unique across runs */

    struct bench_client *clients;
    unsigned n_clients, n_ready, n_linked, next_name;
    unsigned ready_target;        /* all_ready once n_ready reaches it */
    bool all_ready, all_linked;
    bool measuring, stopped;
    bool probing;                 /* wait_for_paths: messages only counted */
    char error[256];

    uint64_t received, bytes;     /* at receivers, while measuring */
    double server_cpu, bench_cpu; /* % of one core while measuring */
    struct histogram *latency;    /* latency workload */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- the filler payload ------------------------------------------------ */

static unsigned char *filler;

const unsigned char *bench_filler(void)
{
    return filler;
}

/* A copy: the generator copies each client's message once, into its
 * template, so this is never on the measured path. */
void bench_add_filler(struct evbuffer *out, size_t len)
{
    evbuffer_add(out, filler, len);
}

ssize_t bench_parse_all(struct bench_client *c, const unsigned char *in, size_t len,
                        ssize_t (*one)(struct bench_client *c, const unsigned char *in,
                                       size_t len))
{
    size_t used = 0;

    while (!c->closing && used < len) {
        ssize_t got = one(c, in + used, len - used);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        used += (size_t)got;
    }
    return (ssize_t)used;
}

/* --- clients ------------------------------------------------------------ */

void bench_fail(struct bench_client *c, const char *fmt, ...)
{
    struct run *run = c->workload;
    if (run->error[0] != '\0')
        return;
    int n = snprintf(run->error, sizeof run->error, "%s: ", c->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->error + n, sizeof run->error - (size_t)n, fmt, ap);
    va_end(ap);
    event_base_loopbreak(run->base);
}

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static void arm_write(struct bench_client *c, bool on)
{
    if (on != c->write_armed) {
        if (on)
            event_add(&c->writable, NULL);
        else
            event_del(&c->writable);
        c->write_armed = on;
    }
}

static void mark_connected(struct bench_client *c)
{
    if (c->connected)
        return;
    c->connected = true;
    if (c->driver->connected != NULL)
        c->driver->connected(c);
}

static void client_close(struct bench_client *c)
{
    c->closing = true;
    if (c->fd < 0)
        return;
    event_del(&c->readable);
    event_del(&c->writable);
    c->write_armed = false;
    close(c->fd);
    c->fd = -1;
}

static void client_free(struct bench_client *c)
{
    client_close(c);
    if (c->out != NULL)
        evbuffer_free(c->out);
    free(c->in);
    free(c->tmpl);
}

/* The client's message, encoded once by its driver and repeated to fill
 * the template: a batch write is then a slice of it, never an encoding.
 * The header is constant for a client (its peer, its connection id and
 * the size do not change once linked), which every driver relies on. */
static void build_template(struct bench_client *c, size_t size)
{
    struct run *run = c->workload;
    struct evbuffer *one = evbuffer_new(), *control = c->out;

    c->out = one;
    c->driver->send(c, size);
    c->out = control;
    c->msg_len = evbuffer_get_length(one);
    size_t copies = 1;
    if (run->opt->send_mode == SEND_BATCH && c->msg_len < BATCH_BYTES)
        copies = BATCH_BYTES / c->msg_len;
    c->tmpl_len = copies * c->msg_len;
    c->tmpl = malloc(c->tmpl_len);
    if (c->tmpl == NULL) {
        bench_fail(c, "out of memory for a %zu-byte message template", c->tmpl_len);
        c->msg_len = c->tmpl_len = 0; /* nothing to write */
        copies = 0;
    } else {
        evbuffer_copyout(one, c->tmpl, c->msg_len);
    }
    for (size_t i = 1; i < copies; i++)
        memcpy(c->tmpl + i * c->msg_len, c->tmpl, c->msg_len);
    evbuffer_free(one);
}

/* The workload wants `total` messages written by c, ever. */
static void queue_until(struct bench_client *c, uint64_t total)
{
    struct run *run = c->workload;
    if (c->tmpl == NULL)
        build_template(c, run->opt->size);
    if (total > c->queued)
        c->queued = total;
}

static bool at_message_boundary(const struct bench_client *c)
{
    return c->msg_len == 0 || c->phase % c->msg_len == 0;
}

/* The next write's bytes: the rest of the template from `phase`, so a
 * batch write holds up to BATCH_BYTES and a single write the rest of one
 * message (its template is one message), within what is owed. */
static size_t next_slice(const struct bench_client *c)
{
    uint64_t owed = c->queued * c->msg_len - c->written;
    size_t len = c->tmpl_len - c->phase;
    return owed < len ? (size_t)owed : len;
}

static void socket_error(struct bench_client *c, int err);

/* Write what c owes: control bytes between messages, then messages from
 * the template, until all is written or the socket is full (then the
 * write event finishes the job). */
static void pump(struct bench_client *c)
{
    while (!c->closing) {
        size_t want;
        ssize_t n;
        if (evbuffer_get_length(c->out) > 0 && at_message_boundary(c)) {
            want = evbuffer_get_length(c->out);
            n = evbuffer_write(c->out, c->fd);
        } else if (c->msg_len > 0 && c->written < c->queued * c->msg_len) {
            want = next_slice(c);
            n = send(c->fd, c->tmpl + c->phase, want, MSG_NOSIGNAL);
            if (n > 0) {
                c->written += (uint64_t)n;
                c->phase += (size_t)n;
                if (c->phase == c->tmpl_len)
                    c->phase = 0;
            }
        } else {
            break;
        }
        if (n < 0 && would_block(errno)) {
            arm_write(c, true);
            return;
        }
        if (n < 0) {
            socket_error(c, errno);
            return;
        }
        mark_connected(c);
        if ((size_t)n < want) {
            arm_write(c, true);
            return;
        }
    }
    /* Until connected, the write event is what says it is. */
    arm_write(c, !c->connected && !c->closing);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct bench_client *c = arg;
    (void)what;
    if (!c->connected) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
            socket_error(c, err);
            return;
        }
        mark_connected(c);
    }
    pump(c);
}

/* Room for the next read: the buffer grows while reads fill it, up to
 * READ_BYTES (or to what one message needs), so that an idle client
 * (the memory workload) holds little and a busy one reads in bulk. */
static size_t read_room(struct bench_client *c, bool filled)
{
    if (c->in_len == c->in_cap || (filled && c->in_cap < READ_BYTES)) {
        size_t cap = c->in_cap == 0 ? 2048 : 2 * c->in_cap;
        unsigned char *grown = realloc(c->in, cap);
        if (grown == NULL) {
            bench_fail(c, "out of memory for a %zu-byte input buffer", cap);
            return 0;
        }
        c->in = grown;
        c->in_cap = cap;
    }
    return c->in_cap - c->in_len;
}

/* Hand the driver what arrived; keep only the unparsed tail. */
static int parse_input(struct bench_client *c)
{
    ssize_t used = c->driver->input(c, c->in, c->in_len);
    if (used < 0)
        return -1;
    c->in_len -= (size_t)used;
    if (c->in_len > 0 && used > 0)
        memmove(c->in, c->in + used, c->in_len);
    return 0;
}

static void after_input(struct bench_client *c);

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct bench_client *c = arg;
    bool filled = false;
    (void)what;
    /* A few reads at most: one is the rule, more only while they fill
     * the buffer, so that one busy socket does not starve the others. */
    for (int reads = 0; reads < 4 && !c->closing; reads++) {
        size_t room = read_room(c, filled);
        if (room == 0)
            return; /* out of memory: the run has failed */
        ssize_t n = read(fd, c->in + c->in_len, room);
        if (n < 0 && would_block(errno))
            break;
        if (n <= 0) {
            socket_error(c, n == 0 ? 0 : errno);
            return;
        }
        mark_connected(c);
        c->in_len += (size_t)n;
        if (parse_input(c) < 0)
            return;
        filled = (size_t)n == room;
        if (!filled)
            break;
    }
    after_input(c);
}

/* Receivers are clients[pairs..2 pairs) (is_sender); the connect and
 * memory workloads' clients are neither. */
static bool is_receiver(const struct run *run, const struct bench_client *c)
{
    return c->index >= run->opt->pairs && c->index < 2 * run->opt->pairs;
}

/* Open c's socket and queue its login; the connection completes in the
 * background (the login is written as soon as it has). */
static void client_connect(struct run *run, struct bench_client *c)
{
    bool to_receiver_address = run->opt->receiver_address != NULL && is_receiver(run, c);
    const struct sockaddr_storage *to = to_receiver_address ? &run->receiver_addr : &run->addr;
    int to_len = to_receiver_address ? run->receiver_addrlen : run->addrlen;

    c->closing = false;
    c->connected = false;
    c->fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        bench_fail(c, "socket: %s", strerror(errno));
        return;
    }
    /* Messages go out as soon as written; a connector writes once and
     * waits, so it needs no option (a system call saved per connect). */
    if (run->opt->workload != CONNECT) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    event_assign(&c->readable, run->base, c->fd, EV_READ | EV_PERSIST, on_readable, c);
    event_assign(&c->writable, run->base, c->fd, EV_WRITE | EV_PERSIST, on_writable, c);
    event_add(&c->readable, NULL);
    if (connect(c->fd, (const struct sockaddr *)to, (socklen_t)to_len) == 0)
        mark_connected(c);
    else if (errno != EINPROGRESS) {
        socket_error(c, errno);
        return;
    }
    c->driver->hello(c);
    /* On loopback the handshake is usually done by now: write at once,
     * and wait for writability only if it is not. */
    pump(c);
}

/* Connect and queue the login; the name is prefix + a number unique to
 * this process. A reopened client keeps its buffers. */
static void client_open(struct run *run, struct bench_client *c, char prefix)
{
    struct bench_client fresh = {.fd = -1, .driver = run->opt->driver, .workload = run,
                                 .index = c->index, .pair_token = c->pair_token,
                                 .partner = c->partner, .out = c->out, .in = c->in,
                                 .in_cap = c->in_cap};
    free(c->tmpl);
    *c = fresh;
    if (c->out == NULL)
        c->out = evbuffer_new();
    evbuffer_drain(c->out, evbuffer_get_length(c->out));
    snprintf(c->name, sizeof c->name, "%c%u-%u", prefix, run->tag, run->next_name++);
    client_connect(run, c);
}

static void retry_connect(evutil_socket_t fd, short what, void *arg)
{
    struct bench_client *c = arg;
    struct run *run = c->workload;
    (void)fd, (void)what;
    if (!run->stopped && run->error[0] == '\0')
        client_connect(run, c);
}

/* A socat receiver may try again: its port listens only once the sender
 * is there (refused until then), and a child of socat left over from an
 * earlier connection hangs up on it at once (an end before any byte). */
static bool may_retry(const struct bench_client *c, int err)
{
    const struct run *run = c->workload;
    if (!c->driver->two_addresses || c->index < run->opt->pairs)
        return false;
    return (!c->connected && err == ECONNREFUSED) || (err == 0 && c->received == 0);
}

/* A failed socket: a retry (may_retry) or the run's failure. */
static void socket_error(struct bench_client *c, int err)
{
    struct run *run = c->workload;
    if (c->closing)
        return;
    if (may_retry(c, err)) {
        static const struct timeval pause = {0, 10000};
        client_close(c);
        event_base_once(run->base, -1, EV_TIMEOUT, retry_connect, c, &pause);
        return;
    }
    if (err == 0 || err == ECONNRESET || err == EPIPE)
        bench_fail(c, "connection closed by the server");
    else
        bench_fail(c, "%s: %s", c->connected ? "connection" : "cannot connect", strerror(err));
}

/* --- waiting on events --------------------------------------------------- */

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    *(bool *)arg = true;
}

/* Run the loop until *done: 1; `seconds` passed first: 0; a failure: -1
 * (run->error says which). */
static int loop_until(struct run *run, const bool *done, double seconds)
{
    bool expired = false;
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (time_t)seconds) * 1e6)};
    struct event *timer = evtimer_new(run->base, on_timeout, &expired);
    evtimer_add(timer, &tv);
    while (!*done && !expired && run->error[0] == '\0')
        event_base_loop(run->base, EVLOOP_ONCE);
    event_free(timer);
    return run->error[0] != '\0' ? -1 : *done ? 1 : 0;
}

/* Until *done, which must come within `seconds`: 0, or -1 with run->error. */
static int wait_for(struct run *run, const bool *done, double seconds, const char *what)
{
    int got = loop_until(run, done, seconds);
    if (got == 0)
        snprintf(run->error, sizeof run->error, "timed out after %.0f s waiting for %s",
                 seconds, what);
    return got > 0 ? 0 : -1;
}

/* Run the loop for `seconds` (a measuring window): 0, or -1 on a failure. */
static int run_for(struct run *run, double seconds)
{
    static const bool never = false;
    return loop_until(run, &never, seconds) < 0 ? -1 : 0;
}

void bench_ready(struct bench_client *c)
{
    struct run *run = c->workload;
    c->ready = true;
    if (++run->n_ready == run->ready_target)
        run->all_ready = true;
    if (run->opt->workload == CONNECT) {
        if (run->measuring)
            run->received++;
        c->closing = true; /* after_input replaces it */
    }
}

/* Senders are clients[0..pairs), their receivers clients[pairs..2 pairs). */
static bool is_sender(const struct run *run, const struct bench_client *c)
{
    return c->index < run->opt->pairs;
}

void bench_linked(struct bench_client *c)
{
    struct run *run = c->workload;
    if (!c->linked && is_sender(run, c) && ++run->n_linked == run->opt->pairs)
        run->all_linked = true;
    c->linked = true;
}

/* Keep `window` messages in flight from sender to its receiver. */
static void refill(struct run *run, struct bench_client *sender)
{
    if (!run->stopped) {
        queue_until(sender, sender->partner->received + run->opt->window);
        pump(sender);
    }
}

/* Counting only: what to send in answer is decided once per read, in
 * after_input, so that a batch of messages costs one write. */
void bench_received(struct bench_client *c, size_t len)
{
    struct run *run = c->workload;
    c->received++;
    if (run->probing)
        return;
    if (run->opt->workload == LATENCY) {
        if (!is_sender(run, c)) {
            queue_until(c, c->received); /* the pong */
            return;
        }
        if (run->measuring)
            histogram_add(run->latency, now_ns() - c->sent_at_ns);
        if (!run->stopped) {
            c->sent_at_ns = now_ns();
            queue_until(c, c->received + 1);
        }
        return;
    }
    if (run->measuring) {
        run->received++;
        run->bytes += len;
    }
}

/* After a read: a connector that logged in is replaced (here, not in
 * the driver's callback); answers and the partner's window go out. */
static void after_input(struct bench_client *c)
{
    struct run *run = c->workload;
    if (run->error[0] != '\0')
        return;
    if (c->closing) {
        client_close(c);
        if (run->opt->workload == CONNECT && !run->stopped)
            client_open(run, c, 'c');
        return;
    }
    pump(c);
    if (run->opt->workload == THROUGHPUT && c->partner != NULL && !is_sender(run, c) &&
        c->partner->linked && !run->probing)
        refill(run, c->partner);
}

/* --- workloads -------------------------------------------------------- */

static int resolve(const char *address, struct sockaddr_storage *addr, int *addrlen)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    if (colon == NULL || (size_t)(colon - address) >= sizeof host)
        return -1;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    char spec[300];
    snprintf(spec, sizeof spec, "%s:%s", host, colon + 1);
    *addrlen = sizeof *addr;
    return evutil_parse_sockaddr_port(spec, (struct sockaddr *)addr, addrlen);
}

static void run_start(struct run *run, const struct options *opt, unsigned n, unsigned rep)
{
    memset(run, 0, sizeof *run);
    run->opt = opt;
    run->base = event_base_new();
    run->tag = (unsigned)getpid() % 100000 * 100 + rep;
    run->n_clients = run->ready_target = n;
    run->clients = calloc(n, sizeof *run->clients);
    for (unsigned i = 0; i < n; i++) {
        run->clients[i].index = UINT32_MAX; /* neither sender nor receiver */
        run->clients[i].fd = -1;
    }
    resolve(opt->address, &run->addr, &run->addrlen);
    if (opt->receiver_address != NULL)
        resolve(opt->receiver_address, &run->receiver_addr, &run->receiver_addrlen);
}

static void run_finish(struct run *run)
{
    for (unsigned i = 0; i < run->n_clients; i++)
        client_free(&run->clients[i]);
    /* Let the closes reach the server before the next repetition. */
    event_base_loop(run->base, EVLOOP_NONBLOCK);
    free(run->clients);
    event_base_free(run->base);
}

/* Pub/sub across the nodes of a cluster (--receiver-address): a
 * subscription is in place on the receiver's node when its PONG comes,
 * but reaches the sender's node a moment later, over a route, and what
 * is published there before is dropped without a word, which would
 * stall a window (or the ping-pong) for good. So each client sends a
 * message every 10 ms until its partner has had one, both ways; once
 * the last of them are in, every count starts again from zero. */
static int wait_for_paths(struct run *run)
{
    unsigned n = 2 * run->opt->pairs;
    bool all = false;

    run->probing = true;
    for (int tries = 0; !all && tries < 1000; tries++) {
        all = true;
        for (unsigned i = 0; i < n; i++) {
            struct bench_client *c = &run->clients[i];
            if (c->partner->received == 0) {
                all = false;
                queue_until(c, c->queued + 1);
                pump(c);
            }
        }
        if (!all && run_for(run, 0.01) < 0)
            return -1;
    }
    if (!all) {
        snprintf(run->error, sizeof run->error, "no message crossed between the "
                 "servers in 10 s (is the cluster up?)");
        return -1;
    }
    /* What was published before the path was there is lost; what was
     * published since is in by the end of this pause. */
    if (run_for(run, 0.1) < 0)
        return -1;
    run->probing = false;
    for (unsigned i = 0; i < n; i++) {
        struct bench_client *c = &run->clients[i];
        if (c->written != c->queued * c->msg_len) {
            bench_fail(c, "its probe messages were not all written");
            return -1;
        }
        c->received = c->queued = c->written = 0;
    }
    return 0;
}

/* Connect every client, then link each sender to its receiver. */
static int connect_pairs(struct run *run)
{
    unsigned pairs = run->opt->pairs;
    for (unsigned i = 0; i < pairs; i++) {
        struct bench_client *s = &run->clients[i], *r = &run->clients[pairs + i];
        s->index = i, r->index = pairs + i;
        s->partner = r, r->partner = s;
        s->pair_token = r->pair_token = run->tag * 64 + i;
    }
    for (unsigned i = 0; i < run->n_clients; i++)
        client_open(run, &run->clients[(i + pairs) % run->n_clients],
                    i < pairs ? 'r' : 's');
    if (wait_for(run, &run->all_ready, 20, "logins") < 0)
        return -1;
    for (unsigned i = 0; i < pairs; i++) {
        struct bench_client *s = &run->clients[i], *r = s->partner;
        snprintf(s->peer, sizeof s->peer, "%s", r->name);
        snprintf(r->peer, sizeof r->peer, "%s", s->name);
        if (s->driver->link != NULL) {
            s->driver->link(s);
            pump(s);
        } else
            bench_linked(s), bench_linked(r);
    }
    if (wait_for(run, &run->all_linked, 20, "connections to open") < 0)
        return -1;
    if (run->opt->driver->pub_sub && !run->opt->driver->two_addresses &&
        run->opt->receiver_address != NULL)
        return wait_for_paths(run);
    return 0;
}

/* Clock ticks used by `pid` (and, with `reaped`, by its children that it
 * has waited for), -1 if unknown. */
static long cpu_ticks(long pid, bool reaped)
{
    char path[64];
    long utime, stime, cutime, cstime;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    /* Fields 14 to 17, after "pid (comm) state" and ten others. */
    int got = fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%ld %ld %ld %ld", &utime, &stime, &cutime, &cstime);
    fclose(f);
    return got != 4 ? -1 : utime + stime + (reaped ? cutime + cstime : 0);
}

/* CPU seconds used so far by `pid` (0: this process), -1 if unknown. A
 * server that forks per connection (socat's fork option) does its work
 * in children: theirs count too, live or reaped. */
static double cpu_seconds(long pid)
{
    if (pid == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    long ticks = cpu_ticks(pid, true);
    if (ticks < 0)
        return -1;
    char path[80];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", pid, pid);
    FILE *f = fopen(path, "r");
    long child, more;
    while (f != NULL && fscanf(f, "%ld", &child) == 1)
        if ((more = cpu_ticks(child, false)) > 0)
            ticks += more;
    if (f != NULL)
        fclose(f);
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds used so far by every server process (--server-pid),
 * summed; -1 when none was given or one cannot be read. */
static double servers_cpu_seconds(const struct options *opt)
{
    double sum = 0;
    if (opt->n_server_pids == 0)
        return -1;
    for (unsigned i = 0; i < opt->n_server_pids; i++) {
        double one = cpu_seconds(opt->server_pids[i]);
        if (one < 0)
            return -1;
        sum += one;
    }
    return sum;
}

/* The measuring window: counts start after the warm-up. Also measures
 * how busy the server and the generator were: a result with the
 * generator at 100 % and the server below is the generator's limit. */
static int measure(struct run *run, double *elapsed)
{
    if (run_for(run, run->opt->warmup) < 0)
        return -1;
    run->measuring = true;
    uint64_t start = now_ns();
    double server0 = servers_cpu_seconds(run->opt);
    double bench0 = cpu_seconds(0);
    if (run_for(run, run->opt->duration) < 0)
        return -1;
    run->measuring = false;
    run->stopped = true;
    *elapsed = (double)(now_ns() - start) / 1e9;
    double server1 = server0 >= 0 ? servers_cpu_seconds(run->opt) : -1;
    run->server_cpu = server1 >= 0 ? 100 * (server1 - server0) / *elapsed : -1;
    run->bench_cpu = 100 * (cpu_seconds(0) - bench0) / *elapsed;
    return 0;
}

/* The CPU figures of the repetitions, for the result line. */
static double server_cpu_sum, bench_cpu_sum;
static unsigned cpu_samples;

static void add_cpu(const struct run *run)
{
    server_cpu_sum += run->server_cpu;
    bench_cpu_sum += run->bench_cpu;
    cpu_samples++;
}

/* The end of a counting workload: received per second, or the error. */
static int finish_rate(struct run *run, int rc, double elapsed, double *value)
{
    if (rc == 0) {
        *value = (double)run->received / elapsed;
        add_cpu(run);
    } else {
        fprintf(stderr, "mpbench: %s: %s\n", run->opt->driver->name, run->error);
    }
    run_finish(run);
    return rc;
}

static int throughput_once(const struct options *opt, unsigned rep, double *value)
{
    struct run run;
    double elapsed;
    run_start(&run, opt, 2 * opt->pairs, rep);
    int rc = connect_pairs(&run);
    for (unsigned i = 0; rc == 0 && i < opt->pairs; i++)
        refill(&run, &run.clients[i]);
    if (rc == 0)
        rc = measure(&run, &elapsed);
    return finish_rate(&run, rc, elapsed, value);
}

static int latency_once(const struct options *opt, unsigned rep, struct histogram *h)
{
    struct run run;
    double elapsed;
    struct options one = *opt;
    one.pairs = 1;
    run_start(&run, &one, 2, rep);
    run.latency = h;
    int rc = connect_pairs(&run);
    if (rc == 0) {
        run.clients[0].sent_at_ns = now_ns();
        queue_until(&run.clients[0], 1);
        pump(&run.clients[0]);
        rc = measure(&run, &elapsed);
    }
    if (rc != 0)
        fprintf(stderr, "mpbench: %s: %s\n", opt->driver->name, run.error);
    run_finish(&run);
    return rc;
}

static int connect_once(const struct options *opt, unsigned rep, double *value)
{
    struct run run;
    double elapsed;
    run_start(&run, opt, opt->concurrency, rep);
    run.ready_target = UINT32_MAX; /* they come and go */
    for (unsigned i = 0; i < opt->concurrency; i++)
        client_open(&run, &run.clients[i], 'c');
    int rc = measure(&run, &elapsed);
    return finish_rate(&run, rc, elapsed, value);
}

/* One child's figures for one repetition of the connect workload. */
struct child_report {
    unsigned rep;
    double value, server_cpu, bench_cpu;
};

/* A child of connect_in_procs: every repetition with its share of the
 * connectors, each reported on `to` (one write, under PIPE_BUF). */
static int connect_child(const struct options *mine, int to)
{
    for (unsigned r = 0; r < mine->reps; r++) {
        double server0 = server_cpu_sum, bench0 = bench_cpu_sum;
        struct child_report report = {.rep = r};
        if (connect_once(mine, r, &report.value) < 0)
            return 1;
        report.server_cpu = server_cpu_sum - server0;
        report.bench_cpu = bench_cpu_sum - bench0;
        if (write(to, &report, sizeof report) != (ssize_t)sizeof report)
            return 1;
    }
    return 0;
}

/* connect with --procs N: N forked generators share the connectors, so
 * that the generator is not what limits the connect rate. They start
 * together and measure for the same time, so their windows overlap; per
 * repetition the rates and generator CPU are summed, and the server's
 * CPU (seen by each over about the same window) is averaged. */
static int connect_in_procs(const struct options *opt, double *values)
{
    double server[MAX_REPS] = {0}, bench[MAX_REPS] = {0};
    unsigned reports = 0;
    int fds[2];
    pid_t kids[MAX_PROCS];

    if (pipe(fds) < 0)
        return -1;
    fflush(stdout);
    for (unsigned k = 0; k < opt->procs; k++) {
        struct options mine = *opt;
        mine.procs = 1;
        mine.concurrency = opt->concurrency / opt->procs + (k < opt->concurrency % opt->procs);
        kids[k] = fork();
        if (kids[k] == 0) {
            close(fds[0]);
            _exit(connect_child(&mine, fds[1]));
        }
    }
    close(fds[1]);
    memset(values, 0, opt->reps * sizeof *values);
    struct child_report report;
    while (read(fds[0], &report, sizeof report) == (ssize_t)sizeof report &&
           report.rep < opt->reps) {
        values[report.rep] += report.value;
        server[report.rep] += report.server_cpu / opt->procs;
        bench[report.rep] += report.bench_cpu;
        reports++;
    }
    close(fds[0]);
    int failed = 0;
    for (unsigned k = 0; k < opt->procs; k++) {
        int status;
        if (kids[k] < 0 || waitpid(kids[k], &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed = 1;
    }
    if (failed || reports != opt->procs * opt->reps)
        return -1;
    for (unsigned r = 0; r < opt->reps; r++) {
        server_cpu_sum += server[r];
        bench_cpu_sum += bench[r];
        cpu_samples++;
    }
    return 0;
}

static long rss_bytes(long pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

/* K idle clients, connected `concurrency` at a time. */
static int memory_once(const struct options *opt, unsigned rep, double *value)
{
    struct run run;
    long server = opt->n_server_pids > 0 ? opt->server_pids[0] : 0;
    long before = server > 0 ? rss_bytes(server) : -1;
    if (before < 0) {
        fprintf(stderr, "mpbench: cannot read the RSS of pid %ld (--server-pid)\n", server);
        return -1;
    }
    run_start(&run, opt, opt->clients, rep);
    unsigned opened = 0;
    int rc = 0;
    while (rc == 0 && opened < opt->clients) {
        unsigned batch = opened + opt->concurrency < opt->clients ? opt->concurrency
                                                                  : opt->clients - opened;
        for (unsigned i = 0; i < batch; i++, opened++)
            client_open(&run, &run.clients[opened], 'm');
        run.ready_target = opened;
        run.all_ready = run.n_ready >= opened;
        rc = wait_for(&run, &run.all_ready, 30, "logins");
    }
    /* A settling pause, so that the server's last allocations are in. */
    if (rc == 0)
        rc = run_for(&run, 0.5);
    long after = rss_bytes(server);
    if (rc == 0)
        *value = (double)(after - before) / opt->clients;
    else
        fprintf(stderr, "mpbench: %s: %s\n", opt->driver->name, run.error);
    run_finish(&run);
    return rc;
}

/* --- results ------------------------------------------------------------ */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_series(const struct options *opt, const char *metric, double *v,
                         unsigned n, const char *unit)
{
    qsort(v, n, sizeof *v, compare_doubles);
    double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    printf("result target=%s workload=%s size=%zu pairs=%u window=%u "
           "metric=%s median=%.1f min=%.1f max=%.1f reps=%u",
           opt->driver->name, workload_names[opt->workload], opt->size, opt->pairs,
           opt->window, metric, median, v[0], v[n - 1], n);
    if (opt->workload == THROUGHPUT)
        printf(" mb_s=%.1f send_mode=%s", median * (double)opt->size / 1e6,
               send_mode_names[opt->send_mode]);
    if (opt->workload == CONNECT)
        printf(" bench_procs=%u concurrency=%u", opt->procs, opt->concurrency);
    if (cpu_samples > 0 && opt->n_server_pids > 0)
        printf(" server_cpu=%.0f", server_cpu_sum / cpu_samples);
    if (cpu_samples > 0)
        printf(" bench_cpu=%.0f", bench_cpu_sum / cpu_samples);
    printf("\n");
    printf("  %-10s %-10s %6zu B x%-2u %14.0f %s  (min %.0f, max %.0f)",
           opt->driver->name, workload_names[opt->workload], opt->size, opt->pairs, median,
           unit, v[0], v[n - 1]);
    if (cpu_samples > 0 && opt->n_server_pids > 0)
        printf("  cpu: server %.0f %%,", server_cpu_sum / cpu_samples);
    else if (cpu_samples > 0)
        printf("  cpu:");
    if (cpu_samples > 0)
        printf(" mpbench %.0f %%", bench_cpu_sum / cpu_samples);
    if (opt->procs > 1)
        printf(" (%u processes)", opt->procs);
    printf("\n");
}

static int run_workload(const struct options *opt)
{
    double values[MAX_REPS];
    unsigned reps = opt->reps;
    int rc = 0;

    if (opt->workload == LATENCY) {
        struct histogram *h = calloc(1, sizeof *h);
        for (unsigned r = 0; rc == 0 && r < reps; r++)
            rc = latency_once(opt, r, h);
        if (rc == 0) {
            printf("result target=%s workload=latency size=%zu pairs=1 window=1 "
                   "samples=%llu p50_us=%.1f p90_us=%.1f p99_us=%.1f p99_9_us=%.1f\n",
                   opt->driver->name, opt->size, (unsigned long long)h->count,
                   histogram_percentile(h, 0.5) / 1e3, histogram_percentile(h, 0.9) / 1e3,
                   histogram_percentile(h, 0.99) / 1e3, histogram_percentile(h, 0.999) / 1e3);
            printf("  %-10s latency    %6zu B  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f us"
                   " (%llu round trips)\n",
                   opt->driver->name, opt->size, histogram_percentile(h, 0.5) / 1e3,
                   histogram_percentile(h, 0.9) / 1e3, histogram_percentile(h, 0.99) / 1e3,
                   histogram_percentile(h, 0.999) / 1e3, (unsigned long long)h->count);
        }
        free(h);
        return rc;
    }
    if (opt->workload == CONNECT && opt->procs > 1)
        rc = connect_in_procs(opt, values);
    for (unsigned r = 0; rc == 0 && r < reps && opt->procs == 1; r++) {
        switch (opt->workload) {
        case THROUGHPUT: rc = throughput_once(opt, r, &values[r]); break;
        case CONNECT: rc = connect_once(opt, r, &values[r]); break;
        case MEMORY: rc = memory_once(opt, r, &values[r]); break;
        case LATENCY: break;
        }
    }
    if (rc != 0)
        return rc;
    if (opt->workload == THROUGHPUT)
        print_series(opt, "msgs_s", values, reps, "msgs/s");
    else if (opt->workload == CONNECT)
        print_series(opt, "conns_s", values, reps, "conns/s");
    else
        print_series(opt, "bytes_per_client", values, reps, "B/client");
    return 0;
}

/* --- command line --------------------------------------------------------- */

static const struct bench_driver *const drivers[] = {
    &bench_driver_mp_binary, &bench_driver_mp_json, &bench_driver_mp_protobuf,
    &bench_driver_nats,
    &bench_driver_mqtt, &bench_driver_redis, &bench_driver_relay, &bench_driver_socat,
};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: mpbench -t TARGET -a HOST:PORT [-w WORKLOAD] [options]\n"
            "       mpbench --free-ports N       print N free loopback ports\n"
            "       mpbench --wait-port HOST:PORT until it accepts (10 s)\n"
            "targets: mp-binary mp-json mp-protobuf nats mqtt redis relay socat\n"
            "workloads: throughput (default), latency, connect, memory\n"
            "  -s, --size BYTES        message size (64)\n"
            "  -p, --pairs N           sender->receiver pairs (1)\n"
            "  -W, --window N          messages in flight per pair (500)\n"
            "      --send-mode MODE    batch: many messages per write (up to %u KiB);\n"
            "                          single: one message per write (batch)\n"
            "  -d, --duration SECONDS  measuring time per repetition (2)\n"
            "      --warmup SECONDS    before measuring (0.5)\n"
            "  -r, --reps N            repetitions, median reported (3, at most %d)\n"
            "  -k, --clients K         memory: idle clients (10000)\n"
            "  -c, --concurrency N     connect/memory: connections at once (16)\n"
            "      --procs N           connect: N processes share the connectors (1)\n"
            "      --server-pid PID[,PID...]\n"
            "                          whose CPU to read, summed (and, for memory, the\n"
            "                          first one's RSS)\n"
            "      --receiver-address HOST:PORT\n"
            "                          where the receivers connect (the senders connect\n"
            "                          to -a): another broker or node of a cluster, or\n"
            "                          socat's second port (needed there; 1 pair only);\n"
            "                          throughput and latency\n",
            BATCH_BYTES >> 10, MAX_REPS);
}

/* Print N ports free on 127.0.0.1 (bound together, so distinct). */
static int free_ports(unsigned n)
{
    int fds[64];
    if (n == 0 || n > 64)
        return 2;
    for (unsigned i = 0; i < n; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sin;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sin, sizeof sin) < 0 ||
            getsockname(fds[i], (struct sockaddr *)&sin, &len) < 0)
            return 1;
        printf("%u\n", ntohs(sin.sin_port));
    }
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}

/* Until HOST:PORT accepts a connection, for at most 10 s: 0, or 1. */
static int wait_port(const char *address)
{
    struct run run = {0};
    if (resolve(address, &run.addr, &run.addrlen) < 0)
        return 2;
    for (int tries = 0; tries < 500; tries++) {
        int fd = socket(run.addr.ss_family, SOCK_STREAM, 0);
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&run.addr, (socklen_t)run.addrlen) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 0;
        usleep(20000); /* a server starting up: nothing to wait on but time */
    }
    fprintf(stderr, "mpbench: nothing accepts on %s\n", address);
    return 1;
}

/* Options that parse but do not go together: 2 with a message, or 0. */
static int check_combination(const struct options *opt)
{
    const char *name = opt->driver->name, *workload = workload_names[opt->workload];

    if ((opt->workload == CONNECT || opt->workload == MEMORY) && !opt->driver->has_names) {
        fprintf(stderr, "mpbench: %s has no logins: no %s workload\n", name, workload);
        return 2;
    }
    if (opt->driver->two_addresses) {
        if (opt->workload != THROUGHPUT || opt->pairs != 1) {
            fprintf(stderr, "mpbench: %s relays one connection one way: only the "
                    "throughput workload with 1 pair (-p 1)\n", name);
            return 2;
        }
        if (opt->receiver_address == NULL) {
            fprintf(stderr, "mpbench: %s needs --receiver-address HOST:PORT (the port "
                    "its receiver connects to)\n", name);
            return 2;
        }
    } else if (opt->receiver_address != NULL &&
               (!opt->driver->has_names ||
                (opt->workload != THROUGHPUT && opt->workload != LATENCY))) {
        fprintf(stderr, "mpbench: --receiver-address is for the throughput and latency "
                "workloads of a target with names (or socat)\n");
        return 2;
    }
    if (opt->procs > 1 && opt->workload != CONNECT) {
        fprintf(stderr, "mpbench: --procs is for the connect workload only\n");
        return 2;
    }
    if (opt->procs > opt->concurrency) {
        fprintf(stderr, "mpbench: --procs %u needs at least as many connectors (-c)\n",
                opt->procs);
        return 2;
    }
    return 0;
}

/* --server-pid PID[,PID...]: 0, or -1 with a message. */
static int parse_pids(const char *list, struct options *opt)
{
    const char *at = list;
    opt->n_server_pids = 0;
    while (*at != '\0') {
        char *end;
        long pid = strtol(at, &end, 10);
        if (end == at || pid <= 0 || (*end != ',' && *end != '\0') ||
            opt->n_server_pids == MAX_SERVER_PIDS) {
            fprintf(stderr, "mpbench: --server-pid wants up to %d process ids, comma-"
                    "separated, not %s\n", MAX_SERVER_PIDS, list);
            return -1;
        }
        opt->server_pids[opt->n_server_pids++] = pid;
        at = *end == ',' ? end + 1 : end;
    }
    return 0;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
    static const struct option longs[] = {
        {"target", 1, 0, 't'}, {"address", 1, 0, 'a'}, {"workload", 1, 0, 'w'},
        {"size", 1, 0, 's'}, {"pairs", 1, 0, 'p'}, {"window", 1, 0, 'W'},
        {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'u'}, {"reps", 1, 0, 'r'},
        {"clients", 1, 0, 'k'}, {"concurrency", 1, 0, 'c'}, {"server-pid", 1, 0, 'P'},
        {"free-ports", 1, 0, 'F'}, {"wait-port", 1, 0, 'X'}, {"help", 0, 0, 'h'},
        {"send-mode", 1, 0, 'M'}, {"receiver-address", 1, 0, 'R'}, {"procs", 1, 0, 'N'},
        {0, 0, 0, 0}};
    int ch;
    *opt = (struct options){.workload = THROUGHPUT, .size = 64, .pairs = 1, .window = 500,
                            .reps = 3, .clients = 10000, .concurrency = 16, .procs = 1,
                            .duration = 2, .warmup = 0.5};
    while ((ch = getopt_long(argc, argv, "t:a:w:s:p:W:d:r:k:c:h", longs, NULL)) != -1) {
        switch (ch) {
        case 't':
            for (size_t i = 0; i < sizeof drivers / sizeof *drivers; i++)
                if (strcmp(optarg, drivers[i]->name) == 0)
                    opt->driver = drivers[i];
            if (opt->driver == NULL) {
                fprintf(stderr, "mpbench: unknown target %s\n", optarg);
                return 2;
            }
            break;
        case 'a': opt->address = optarg; break;
        case 'w': {
            int found = -1;
            for (int i = 0; i < 4; i++)
                if (strcmp(optarg, workload_names[i]) == 0)
                    found = i;
            if (found < 0) {
                fprintf(stderr, "mpbench: unknown workload %s\n", optarg);
                return 2;
            }
            opt->workload = (enum workload)found;
            break;
        }
        case 's': opt->size = strtoul(optarg, NULL, 10); break;
        case 'p': opt->pairs = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'W': opt->window = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': opt->duration = strtod(optarg, NULL); break;
        case 'u': opt->warmup = strtod(optarg, NULL); break;
        case 'r': opt->reps = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'k': opt->clients = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'c': opt->concurrency = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'P':
            if (parse_pids(optarg, opt) < 0)
                return 2;
            break;
        case 'M':
            if (strcmp(optarg, "batch") == 0)
                opt->send_mode = SEND_BATCH;
            else if (strcmp(optarg, "single") == 0)
                opt->send_mode = SEND_SINGLE;
            else {
                fprintf(stderr, "mpbench: --send-mode is batch or single, not %s\n", optarg);
                return 2;
            }
            break;
        case 'R': opt->receiver_address = optarg; break;
        case 'N': opt->procs = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'F': exit(free_ports((unsigned)strtoul(optarg, NULL, 10)));
        case 'X': exit(wait_port(optarg));
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (opt->driver == NULL || opt->address == NULL || opt->size > BENCH_MAX_PAYLOAD ||
        opt->pairs == 0 || opt->pairs > 64 || opt->window == 0 || opt->reps == 0 ||
        opt->reps > MAX_REPS || opt->concurrency == 0 || opt->clients == 0 ||
        opt->duration <= 0 || opt->procs == 0 || opt->procs > MAX_PROCS) {
        usage(stderr);
        return 2;
    }
    return check_combination(opt);
}

/* As many descriptors as the hard limit allows (the memory workload). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct options opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc != 0)
        return rc;
    raise_fd_limit();
    mp_tune_malloc(); /* the generator must not pay for heap trimming */
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up is an error, not a signal */
    filler = malloc(BENCH_MAX_PAYLOAD);
    for (size_t i = 0; i < BENCH_MAX_PAYLOAD; i++)
        filler[i] = (unsigned char)('a' + i % 26);
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = run_workload(&opt);
    free(filler);
    return rc == 0 ? 0 : 1;
}
