/**
 * The mpbroker protocol: meta values, the message type and the name rules
 * (doc/protocol.md in the mpbroker source tree). The same names as the
 * Python client's mpclient.protocol, in camelCase.
 */

/** The longest client name or connection id, in bytes of UTF-8. */
export const NAME_MAX = 255;

/** The highest protocol level this package speaks. */
export const PROTOCOL_LEVEL = 2;

/** Level 2: what a Data message costs against its window beyond its length. */
export const CREDIT_MESSAGE_COST = 64;

/** Level 2: the largest grant, and the most credit a sender may hold. */
export const CREDIT_MAX = 2147483647;

/** Level 2: the window when the broker's AuthOk does not say. */
export const DEFAULT_WINDOW = 262144;

/** Level 2: the broker's default limits.max_watches_per_client. */
export const DEFAULT_WATCHES = 64;

/** What a message is: the wire values of the original MessagePasser. */
export const Meta = {
  DATA: 0,
  WAT: 1,
  NO_SUCH_CONNECTION: 2,
  UNKNOWN_PROTO: 3,
  CLIENT_CLOSED: 4,
  CONN_SYN: 5,
  CONN_ACK: 6,
  CONN_CLOSED: 7,
  AUTH: 8,
  AUTH_OK: 9,
  AUTH_FAILURE: 10,
  CREDIT: 11,
  WATCH: 12,
  UNWATCH: 13,
  PRESENCE: 14,
  LIST: 15,
  DENIED: 16,
  REPLACED: 17,
  GOING_AWAY: 18,
} as const;
export type Meta = (typeof Meta)[keyof typeof Meta];

/** Why a connection ended (libmpclient's enum mp_close_reason). */
export const CloseReason = {
  BY_PEER: 1,
  PEER_LEFT: 2,
  BROKER_LOST: 3,
  LOCAL: 4,
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

const CLOSE_TEXT: Record<number, string> = {
  1: "closed by the peer",
  2: "the peer left the broker",
  3: "the broker connection was lost",
  4: "closed by this side",
};

/** A short English text for a close reason. */
export function describeCloseReason(reason: CloseReason): string {
  return CLOSE_TEXT[reason] ?? `close reason ${reason}`;
}

/**
 * One protocol message, as both wire formats carry it. `data` is `null`
 * when absent (JSON null) and an empty array when present but empty: the
 * two differ on the wire. `level` is only set on an Auth announcing a
 * level above 1.
 */
export interface Message {
  meta: number;
  otherClient: string;
  connectionId: string;
  data: Uint8Array | null;
  level?: number | null;
}

/** A message with the missing fields filled in with their zero values. */
export function message(
  meta: number,
  otherClient = "",
  connectionId = "",
  data: Uint8Array | null = null,
  level: number | null = null,
): Message {
  return { meta, otherClient, connectionId, data, level };
}

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const lenientDecoder = new TextDecoder("utf-8");

/** `s` as UTF-8 bytes (a lone surrogate becomes U+FFFD). */
export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** `b` as text, invalid UTF-8 replaced by U+FFFD. */
export function text(b: Uint8Array | null | undefined): string {
  return b ? lenientDecoder.decode(b) : "";
}

/** A message to send: bytes, or a string sent as UTF-8. */
export type Payload = Uint8Array | string;

/** The bytes of a Payload; a TypeError for anything else. */
export function payloadBytes(data: Payload): Uint8Array {
  if (typeof data === "string") return utf8(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`a message is a Uint8Array or a string, not ${typeof data}`);
}

/** True when `s` has a UTF-16 surrogate without its other half. */
export function hasLoneSurrogate(s: string): boolean {
  // A loop rather than a regular expression with lookbehind, which older
  // browsers lack.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c >= 0xdc00) return true;
    const next = s.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
    i++;
  }
  return false;
}

/** Why `name` is not a valid client name, or null if it is. */
export function nameError(name: unknown): string | null {
  if (typeof name !== "string") return "name is not a string";
  if (name === "") return "name is empty";
  if (hasLoneSurrogate(name)) return "name is not valid UTF-8";
  if (utf8(name).length > NAME_MAX) return "name is longer than 255 bytes";
  for (const ch of name) {
    if (ch === ":") return "name contains ':'";
    if (ch < " " || ch === "\x7f") return "name contains a control character";
  }
  return null;
}

/** Return `name` if it is a valid client name; throw a RangeError otherwise. */
export function checkName(name: string): string {
  const why = nameError(name);
  if (why !== null) {
    throw new RangeError(
      `invalid client name ${JSON.stringify(name)}: ${why} (a name is 1-255 bytes of ` +
        "UTF-8 without ':' or control characters: choose another)",
    );
  }
  return name;
}

/** What the broker's AuthOk says (level 2). */
export interface Settings {
  level: number;
  window: number;
  watches: number;
}

export const LEVEL1_SETTINGS: Settings = Object.freeze({ level: 1, window: 0, watches: 0 });

/** The settings in AuthOk's data: `level=2 window=262144 watches=64`. */
export function parseSettings(data: Uint8Array | null): Settings {
  if (data === null) return LEVEL1_SETTINGS;
  const values = new Map<string, number>();
  for (const pair of text(data).split(" ")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const value = pair.slice(eq + 1);
    if (/^[0-9]{1,12}$/.test(value)) values.set(pair.slice(0, eq), Number(value));
  }
  const level = values.get("level") ?? 1;
  if (level < 2) return LEVEL1_SETTINGS;
  const window = Math.min(Math.max(values.get("window") ?? DEFAULT_WINDOW, 1), CREDIT_MAX);
  return { level, window, watches: values.get("watches") ?? DEFAULT_WATCHES };
}

/** The grant a Credit carries (1..CREDIT_MAX, decimal), or null. */
export function parseCredit(data: Uint8Array | null): number | null {
  if (data === null) return null;
  const s = text(data);
  if (!/^[1-9][0-9]{0,9}$/.test(s)) return null;
  const n = Number(s);
  return n <= CREDIT_MAX ? n : null;
}
