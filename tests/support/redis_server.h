/*
 * redis_server.h - a real redis-server for a test: started on a free
 * loopback port with no persistence in its own temporary directory, and
 * the faults the cluster tests need (kill -9, an empty restart on the
 * same port, SIGSTOP/SIGCONT).
 *
 * Every server still alive is stopped by redis_server_reap_all() (use it
 * in the suite's .fini, beside harness_reap_all), so none outlives a
 * failed test; the server also gets SIGKILL if the test process dies
 * (PR_SET_PDEATHSIG). Functions that can fail return a status; none
 * asserts, so they can be called from .init/.fini as well as tests.
 */
#ifndef MP_TEST_REDIS_SERVER_H
#define MP_TEST_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

struct redis_server;
struct redisReply;

/* Start redis-server ($MP_REDIS_SERVER, else "redis-server" from PATH)
 * and wait until it answers PING. NULL on failure (the reason on
 * stderr). */
struct redis_server *redis_server_start(void);

int redis_server_port(const struct redis_server *s);
/* "tcp:127.0.0.1:PORT", what registry_conf.redis wants. */
const char *redis_server_address(const struct redis_server *s);
pid_t redis_server_pid(const struct redis_server *s);

/* kill -9 and reap: the data are gone (there is no persistence). */
void redis_server_kill9(struct redis_server *s);
/* Start again, empty, on the same port (after kill9 or stop); waits for
 * PING. */
bool redis_server_restart(struct redis_server *s);
/* SIGSTOP: the kernel still accepts connections; nothing is answered. */
void redis_server_pause(struct redis_server *s);
/* SIGCONT. */
void redis_server_resume(struct redis_server *s);
/* SHUTDOWN NOSAVE via SIGTERM, waiting a bounded time (then SIGKILL). */
void redis_server_stop(struct redis_server *s);

/* One command, blocking, on a fresh connection with a 2 s timeout
 * (printf-like as hiredis's redisCommand). The caller frees the reply
 * with freeReplyObject(); NULL when Redis did not answer. */
struct redisReply *redis_server_command(struct redis_server *s,
                                        const char *fmt, ...);

/* Stop the server if it runs, remove its directory, free. NULL ignored. */
void redis_server_free(struct redis_server *s);
/* Free every server still alive: for a criterion .fini. */
void redis_server_reap_all(void);

#endif
