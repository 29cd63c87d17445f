/*
 * fakebroker.h - a scripted hostile broker for the tests of libmpclient
 * and mpcat.
 *
 * One listening socket on 127.0.0.1 (an ephemeral port) and a thread of
 * its own that plays a script: accept, answer the Auth with AuthOk, then
 * whatever the test wants - a flood of Syns or Data, garbage, a frame past
 * the limit, the worst-case legal frames - reading or not. The client
 * under test runs in the test's thread (libmpclient on the test's
 * event_base) or in a child process (mpcat), so the fake's sends block
 * while the client does not read, as a real broker's would.
 *
 * The script never asserts (criterion asserts belong to the test's
 * thread): it calls fb_fail() and returns; fb_join() hands the failure to
 * the test. The test talks to the script through fb_signal()/fb_await()
 * and atomic flags of its own.
 */
#ifndef MP_TEST_FAKEBROKER_H
#define MP_TEST_FAKEBROKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "rawclient.h"

struct fakebroker;
typedef void (*fb_script)(struct fakebroker *fb, void *arg);

/* Listen in `fmt` (the client must use the same). rcvbuf > 0: the
 * accepted socket's SO_RCVBUF, so that a fake that stops reading stalls
 * the client soon. Asserts (test thread only). */
struct fakebroker *fb_new(enum rc_format fmt, int rcvbuf);
/* "tcp:127.0.0.1:PORT" (valid while fb lives). */
const char *fb_address(const struct fakebroker *fb);
/* Run script(fb, arg) in the fake's thread. */
void fb_run(struct fakebroker *fb, fb_script script, void *arg);
/* Has the script returned? */
bool fb_done(struct fakebroker *fb);
/* Wait up to ms for the script to return; then stop it (its socket is
 * shut down, so that a blocked send or read returns) and join it.
 * Returns NULL, or what the script gave to fb_fail (or "timed out"). */
const char *fb_join(struct fakebroker *fb, int ms);
/* Join (if still running) and free. NULL is a no-op. */
void fb_free(struct fakebroker *fb);
/* Wake one fb_await of the script. */
void fb_signal(struct fakebroker *fb);

/* ---- inside a script ---- */

/* Accept one client, read its Auth and answer AuthOk with its name.
 * false (after fb_fail) on timeout or anything else. */
bool fb_login(struct fakebroker *fb, int ms);
/* The same, with `settings` as AuthOk's data (a level-2 broker's:
 * rc_str("level=2 window=262144 watches=64")). */
bool fb_login_with(struct fakebroker *fb, int ms, struct rc_blob settings);
/* The accepted client, to send and receive with rawclient.h. */
struct rc_client *fb_client(struct fakebroker *fb);
/* rc_send in the fake's format; false when the test stopped the script,
 * or on a socket error (without fb_fail: a flood ends that way). */
bool fb_send(struct fakebroker *fb, unsigned meta, const char *other,
             const char *id, struct rc_blob data);
bool fb_send_raw(struct fakebroker *fb, const void *bytes, size_t len);
/* Wait up to ms for a fb_signal of the test; false on timeout or stop. */
bool fb_await(struct fakebroker *fb, int ms);
/* Receive messages until one with `meta` (any when < 0; and `id`,
 * unless NULL)
 * arrives; others are counted into *skipped (may be NULL). false (after
 * fb_fail) on timeout, EOF or garbage. */
bool fb_expect(struct fakebroker *fb, int meta, const char *id,
               struct rc_msg *m, int ms, unsigned *skipped);
/* Append one message in the fake's format to *buf (*len bytes, *cap
 * allocated; realloc'd). false when out of memory. */
bool fb_encode(struct fakebroker *fb, unsigned char **buf, size_t *len,
               size_t *cap, unsigned meta, const char *other, const char *id,
               struct rc_blob data);
/*
 * A flood: send buf[0..len) without reading anything until the test calls
 * fb_signal (*all_sent is set if it all went out first); from then on,
 * send the rest while reading, counting the messages of `meta` into *got
 * until `want` arrived. false (after fb_fail) on a socket error, garbage
 * or ms passing.
 */
bool fb_flood(struct fakebroker *fb, const unsigned char *buf, size_t len,
              atomic_bool *all_sent, int meta, unsigned want,
              unsigned *got, int ms);
/* Read and drop everything until the client closes (true), ms pass or
 * an error (false, after fb_fail); then close our end. */
bool fb_read_to_eof(struct fakebroker *fb, int ms);
/* Has the test given up (fb_join timed out)? */
bool fb_stopping(struct fakebroker *fb);
/* Record why the script failed (the first reason wins). */
void fb_fail(struct fakebroker *fb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
