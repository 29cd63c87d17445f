/**
 * The options of connect() and new Client(): their types, their defaults
 * and the checks that turn them into the values a Client runs with.
 * Checked once, at new Client(), so that a bad option throws there and
 * never in the middle of a session.
 */

import { type Address, parseAddress } from "./address.js";
import { type Codec, getCodec } from "./codec.js";
import type { Connection } from "./connection.js";
import type { BrokerLost } from "./errors.js";
import { CREDIT_MAX, PROTOCOL_LEVEL } from "./protocol.js";
import { RECONNECT_INITIAL_MS, RECONNECT_MAX_MS } from "./reconnect.js";
import type { TlsOptions, TransportFactory } from "./transport.js";

/** The broker's default limits.max_message_size. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1048576;

/**
 * A handler: called with each accepted connection. When it returns a
 * Promise, the connection is closed once that settles; otherwise the
 * handler owns the connection (and closes it).
 */
export type Handler = (conn: Connection) => unknown;

/** Where the client writes its warnings (default: console.warn / console.error). */
export interface Logger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
  error?(message: string, error?: unknown): void;
}

/** Where warnings go when the application names no logger. */
const defaultLogger: Logger = {
  warn: (m) => console.warn(`mpclient: ${m}`),
  error: (m, e) => console.error(`mpclient: ${m}`, e ?? ""),
};

/** The options of connect() and new Client(), as the Python client's. */
export interface ClientOptions extends TlsOptions {
  /** The listener's wire format: "binary" (default) or "json". */
  format?: "json" | "binary";
  /** Connecting and logging in (each address), and a graceful close(). Default 10000. */
  timeoutMs?: number;
  /** The broker's max_message_size: the largest encoded message sent. Default 1 MiB. */
  maxMessageSize?: number;
  /** Received bytes a connection holds before reading pauses. Default 1 MiB. */
  inboxLimit?: number;
  /** The same bound for all the inboxes together. Default 16 MiB. */
  inboxTotalLimit?: number;
  /** The most connections open or being opened at once. Default 4096. */
  maxConnections?: number;
  /** TCP keepalive idle time for tcp: and tls: (0: off). Default 60000. */
  keepaliveMs?: number;
  /**
   * Give the broker up as lost (BrokerLost) after this long without a byte
   * from it; for applications whose peers send regularly. Default: never.
   */
  idleTimeoutMs?: number;
  /** protocol -> handler, as by handle(). */
  handlers?: Record<string, Handler>;
  /** The protocol level to announce: 2 (default) or 1. */
  level?: 1 | 2;
  /** Level 2: "auto" (default: grant as the application takes messages) or "manual". */
  credit?: "auto" | "manual";
  /** Level 2: a window larger than the broker's to give the peers, in bytes. */
  receiveWindow?: number;
  /** Log in again by itself when the broker is lost after a login. Default false. */
  reconnect?: boolean;
  /** The delay before the second attempt; it doubles up to reconnectMaxMs. Default 100. */
  reconnectInitialMs?: number;
  /** Default 10000. */
  reconnectMaxMs?: number;
  /** Failed attempts in a row after which the client gives up; 0 (default): never. */
  reconnectMaxAttempts?: number;
  /** Called when the session is lost and the client will reconnect. */
  onDisconnected?: (error: BrokerLost) => unknown;
  /** Called before each attempt with its number and the delay before it. */
  onReconnecting?: (attempt: number, delayMs: number) => unknown;
  /** Called once logged in again. */
  onReconnected?: () => unknown;
  /** Where warnings go (default: the console). */
  logger?: Logger;
  /** The transports (default: those of the entry point imported). */
  transport?: TransportFactory;
}

/** Options of open(), request(), list(), send(). */
export interface TimeoutOptions {
  /** Milliseconds; undefined: no bound. */
  timeoutMs?: number;
}

/** The addresses of new Client(), parsed: one, or a non-empty list. */
export function parseAddresses(address: string | string[]): Address[] {
  const texts = typeof address === "string" ? [address] : Array.from(address);
  if (texts.length === 0 || !texts.every((a) => typeof a === "string")) {
    throw new TypeError("address is a broker address, or a non-empty list of them");
  }
  return texts.map(parseAddress);
}

/** The options a Client runs with, checked, with their defaults filled in. */
export interface CheckedOptions {
  codec: Codec;
  tlsOptions: TlsOptions;
  maxMessageSize: number;
  timeoutMs: number;
  inboxLimit: number;
  inboxTotalLimit: number;
  maxConnections: number;
  keepaliveMs: number;
  idleTimeoutMs: number | null;
  level: 1 | 2;
  creditMode: "auto" | "manual";
  receiveWindow: number | null;
  reconnect: boolean;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  reconnectMaxAttempts: number;
  logger: Logger;
}

/** `v`, or `dflt` when undefined; a RangeError unless it is a number >= `min`. */
function atLeast(what: string, v: number | undefined, dflt: number, min = 1): number {
  const value = v ?? dflt;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(`${what} must be a number of at least ${min}, not ${String(value)}`);
  }
  return value;
}

function checkLevel(options: ClientOptions): 1 | 2 {
  const level = options.level ?? PROTOCOL_LEVEL;
  if (level !== 1 && level !== 2) throw new RangeError(`level must be 1 or 2, not ${String(level)}`);
  return level;
}

function checkCreditMode(options: ClientOptions): "auto" | "manual" {
  const credit = options.credit ?? "auto";
  if (credit !== "auto" && credit !== "manual") {
    throw new RangeError(`credit must be "auto" or "manual", not ${String(credit)}`);
  }
  return credit;
}

function checkReceiveWindow(options: ClientOptions): number | null {
  const rw = options.receiveWindow;
  if (rw !== undefined && (!Number.isInteger(rw) || rw < 1 || rw > CREDIT_MAX)) {
    throw new RangeError(`receiveWindow must be 1 to ${CREDIT_MAX}`);
  }
  return rw ?? null;
}

/** The limits on sizes, counts and times, checked. */
function checkLimits(options: ClientOptions) {
  return {
    maxMessageSize: atLeast("maxMessageSize", options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 256),
    timeoutMs: atLeast("timeoutMs", options.timeoutMs, 10000),
    inboxLimit: atLeast("inboxLimit", options.inboxLimit, 1048576),
    inboxTotalLimit: atLeast("inboxTotalLimit", options.inboxTotalLimit, 16777216),
    maxConnections: atLeast("maxConnections", options.maxConnections, 4096),
    keepaliveMs: atLeast("keepaliveMs", options.keepaliveMs, 60000, 0),
    idleTimeoutMs: options.idleTimeoutMs === undefined ? null : atLeast("idleTimeoutMs", options.idleTimeoutMs, 0),
  };
}

/** The reconnect options, checked. */
function checkReconnect(options: ClientOptions) {
  const initialMs = atLeast("reconnectInitialMs", options.reconnectInitialMs, RECONNECT_INITIAL_MS);
  const maxMs = atLeast("reconnectMaxMs", options.reconnectMaxMs, RECONNECT_MAX_MS);
  if (initialMs > maxMs) throw new RangeError("want reconnectInitialMs <= reconnectMaxMs");
  return {
    reconnectInitialMs: initialMs,
    reconnectMaxMs: maxMs,
    reconnectMaxAttempts: atLeast("reconnectMaxAttempts", options.reconnectMaxAttempts, 0, 0),
  };
}

/**
 * Check `options` (in the order of the fields above: the first bad one
 * throws RangeError) and fill in their defaults.
 */
export function checkOptions(options: ClientOptions): CheckedOptions {
  const codec = getCodec(options.format ?? "binary");
  const tlsOptions = { ca: options.ca, cert: options.cert, key: options.key, servername: options.servername };
  const limits = checkLimits(options);
  const level = checkLevel(options);
  const creditMode = checkCreditMode(options);
  const receiveWindow = checkReceiveWindow(options);
  const reconnect = Boolean(options.reconnect);
  return {
    codec,
    tlsOptions,
    ...limits,
    level,
    creditMode,
    receiveWindow,
    reconnect,
    ...checkReconnect(options),
    logger: options.logger ?? defaultLogger,
  };
}
