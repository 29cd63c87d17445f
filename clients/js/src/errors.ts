/**
 * The errors of mpclient, as the Python client's:
 *
 *     MpError
 *      +-- ConnectError            the broker could not be reached / no login: .permanent
 *      |    +-- TlsError           the TLS handshake failed
 *      |    +-- ConnectTimeout     no login within timeoutMs
 *      +-- AuthError               the broker refused the login: .reason
 *      |    +-- NameTaken          "name already in use"
 *      +-- OpenError               Client.open() was refused: .peer, .protocol
 *      |    +-- NoSuchClient       the peer is not connected (meta 2)
 *      |    +-- UnknownProtocol    the peer has no handler for it (meta 3)
 *      |    +-- Denied             level 2: refused, and why: .reason (meta 16)
 *      +-- ConnectionEnded         a connection (or the client) is over: .reason
 *      |    +-- ConnectionClosed   closed by the peer, or by this side
 *      |    +-- PeerLeft           the peer left the broker (meta 4)
 *      |    +-- BrokerLost         the broker connection was lost
 *      |         +-- Replaced      level 2: the name logged in elsewhere (meta 17)
 *      |         +-- GoingAway     level 2: the broker shut down (meta 18): .delayMs
 *      |         +-- Disconnected  reconnecting: open()/request()/... fail at once
 *      +-- TimeoutError            open(), request(), send(), list() ran out of time
 *      +-- WouldBlock              sendNowait(): no credit, or no room, now
 *      +-- LevelRequired           a level-2 feature with a level-1 broker
 *      +-- MessageTooBig           an encoded message over maxMessageSize
 *      +-- DecodeError             bytes that are not a valid message
 */

import { CloseReason, describeCloseReason } from "./protocol.js";

/** The base class of every mpclient error. */
export class MpError extends Error {
  constructor(message = "", options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The broker could not be reached, the socket failed during the login, or
 * the broker closed it without answering. `permanent` is true when trying
 * the same address again cannot help (wrong wire format, TLS failure).
 */
export class ConnectError extends MpError {
  readonly permanent: boolean;
  constructor(message = "", options?: { permanent?: boolean; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.permanent = options?.permanent ?? false;
  }
}

/** The TLS handshake failed (certificate, host name, ...). Always permanent. */
export class TlsError extends ConnectError {
  constructor(message = "", options?: { cause?: unknown }) {
    super(message, { permanent: true, cause: options?.cause });
  }
}

/** No completed login within the client's `timeoutMs` (also a TimeoutError). */
export class ConnectTimeout extends ConnectError {}

/** The reasons of an AuthFailure that retrying may mend end so. */
export const RETRY_LATER = "try again later";

function authHint(reason: string, name: string): string {
  const who = name ? ` ${JSON.stringify(name)}` : "";
  if (reason === "invalid name or secret") {
    return (
      ` (the broker knows no user${who} with this secret: check the name and the ` +
      "secret; an admin adds users with mpbroker-passwd)"
    );
  }
  if (reason === "name already in use") {
    return (
      ` (another client is logged in as${who || " this name"} and the broker's ` +
      'duplicate_names is "reject": use another name, or close the other client)'
    );
  }
  return "";
}

/** The broker refused the login (AuthFailure, meta 10): `reason` is its text. */
export class AuthError extends MpError {
  readonly reason: string;
  constructor(reason: string, name = "") {
    super(`login refused: ${reason}${authHint(reason, name)}`);
    this.reason = reason;
  }
}

/** The login was refused because another session holds the name. */
export class NameTaken extends AuthError {}

/** Client.open() was refused; `peer` and `protocol` say what was asked for. */
export class OpenError extends MpError {
  readonly peer: string;
  readonly protocol: string;
  constructor(message: string, peer: string, protocol: string) {
    super(message);
    this.peer = peer;
    this.protocol = protocol;
  }
}

/** The peer is not connected to the broker (NoSuchConnection, meta 2). */
export class NoSuchClient extends OpenError {
  constructor(peer: string, protocol: string) {
    super(`no client named ${JSON.stringify(peer)} is connected`, peer, protocol);
  }
}

/** The peer has no handler for the protocol (UnknownProto, meta 3). */
export class UnknownProtocol extends OpenError {
  constructor(peer: string, protocol: string) {
    super(
      `${JSON.stringify(peer)} does not accept protocol ${JSON.stringify(protocol)}`,
      peer,
      protocol,
    );
  }
}

/** Level 2: the Syn was refused on purpose (Denied, meta 16): `reason`. */
export class Denied extends OpenError {
  readonly reason: string;
  constructor(peer: string, protocol: string, reason: string) {
    super(
      `opening ${JSON.stringify(protocol)} to ${JSON.stringify(peer)} was denied: ` +
        (reason || "no reason given"),
      peer,
      protocol,
    );
    this.reason = reason;
  }
}

/** A connection is over: `reason` is a CloseReason, `detail` a text. */
export class ConnectionEnded extends MpError {
  readonly reason: CloseReason;
  readonly detail: string;
  constructor(reason: CloseReason, detail = "") {
    const t = describeCloseReason(reason);
    super(detail ? `${t}: ${detail}` : t);
    this.reason = reason;
    this.detail = detail;
  }
}

/** The connection was closed by the peer (BY_PEER) or this side (LOCAL). */
export class ConnectionClosed extends ConnectionEnded {}

/** The peer disconnected from the broker (ClientClosed, meta 4). */
export class PeerLeft extends ConnectionEnded {
  readonly peer: string;
  constructor(peer: string) {
    super(CloseReason.PEER_LEFT, peer);
    this.peer = peer;
  }
}

/** The connection to the broker was lost after the login; `detail` says how. */
export class BrokerLost extends ConnectionEnded {
  constructor(detail = "") {
    super(CloseReason.BROKER_LOST, detail);
  }
}

/** Level 2: the same name logged in again elsewhere (Replaced, meta 17). */
export class Replaced extends BrokerLost {
  readonly text: string;
  constructor(reason: string) {
    super(`replaced: ${reason || "the name logged in again elsewhere"}`);
    this.text = reason;
  }
}

/** Level 2: the broker shut down after announcing it (GoingAway, meta 18). */
export class GoingAway extends BrokerLost {
  readonly delayMs: number;
  constructor(delayMs: number) {
    super(`the broker is going away (it announced closing within ${delayMs} ms)`);
    this.delayMs = delayMs;
  }
}

/** The client is reconnecting: open(), request(), ... fail at once with this. */
export class Disconnected extends BrokerLost {
  constructor(detail = "") {
    // BrokerLost's constructor takes the detail; the text says more.
    super(`reconnecting, nothing is sent meanwhile (${detail || "the broker was lost"})`);
  }
}

/**
 * An operation with a timeout (open, request, send, list) ran out of time.
 * A ConnectTimeout (a ConnectError) is an instance of it too, as the
 * Python client's ConnectTimeout is both.
 */
export class TimeoutError extends MpError {
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === TimeoutError && value instanceof ConnectTimeout;
  }
}

/**
 * sendNowait() could not send now; nothing was queued. `credit` is true
 * when the connection has no credit left (level 2), false when the
 * transport is full.
 */
export class WouldBlock extends MpError {
  readonly credit: boolean;
  constructor(message: string, credit: boolean) {
    super(message);
    this.credit = credit;
  }
}

/** A level-2 feature with a broker, or a client option, at level 1. */
export class LevelRequired extends MpError {}

/** A message whose encoding would exceed maxMessageSize; nothing was sent. */
export class MessageTooBig extends MpError {}

/** Bytes that are not a valid message in the wire format. */
export class DecodeError extends MpError {}
