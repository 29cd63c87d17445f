/*
 * ws_session.h - sessions whose client speaks WebSocket (RFC 6455): a
 * listener with a `websocket` group (doc/protocol.md, "WebSocket").
 *
 * A WebSocket is one more transport under the same sessions. Its socket
 * (or TLS) bufferevent carries, first, the HTTP opening handshake
 * (ws_handshake.h), then frames (ws_frame.h). Each WebSocket message
 * carries exactly one message in the session's wire format, in the
 * bytes that format has on a stream: the payloads of the client's
 * messages are joined into the session's input, which the format's
 * decoder reads as it reads a TCP stream; each message the broker
 * queues for the client becomes one WebSocket message (text for JSON,
 * binary otherwise). The subprotocol "mpbroker.NAME" (NAME: the
 * translator module's name without "translator_", e.g. mpbroker.json)
 * picks the format; without one, an "auto" listener sniffs it.
 *
 * Ownership: a listener owns its ws_listener (ws_listener_free() with
 * the listener); a session owns its ws_session (ws_session_free() from
 * session_io_free()).
 */
#ifndef MP_BROKER_WS_SESSION_H
#define MP_BROKER_WS_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct errors;
struct evbuffer;
struct listener;
struct listener_conf;
struct loaded_plugin;
struct plugin_set;
struct session;

/* What a WebSocket listener checks and offers: built from its config. */
struct ws_listener;

/* For lc's `websocket` group, the formats of `translator` (NULL:
 * "auto", every one of `set`); NULL when lc has no such group. */
struct ws_listener *ws_listener_new(const struct listener_conf *lc,
                                    const struct plugin_set *set,
                                    const struct loaded_plugin *translator);
void ws_listener_free(struct ws_listener *wl);

/* A new session's WebSocket state: handshake first. */
struct ws_session *ws_session_new(struct session *s);
void ws_session_free(struct ws_session *ws);

/* Bytes arrived on the session's bufferevent: the handshake, or frames
 * whose payloads go to the session's input (then decoded). */
void ws_session_read(struct session *s);

/* `message` holds one whole message queued for the client (encoded by
 * its format): move it to the output as one WebSocket message. Before
 * the handshake completed it is dropped (the client would not read it). */
void ws_session_queue_message(struct session *s, struct evbuffer *message);

/* The session is closing for `reason`: queue a Close frame (once). */
void ws_session_closing(struct session *s, const char *reason);

/* What the session's next Close frame says, when the close is for a
 * reason WebSocket has a code for (a protocol error: 1002). */
void ws_session_set_close_code(struct session *s, uint16_t code);

#endif
