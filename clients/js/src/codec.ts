/**
 * The two wire formats of mpbroker, byte for byte (doc/protocol.md, "JSON"
 * and "Binary"):
 *
 * - json: one object per line, exactly as the original Go JSON translator
 *   (and the broker) write it:
 *   `{"Meta":5,"OtherClient":"bob","ConnectionID":"alice:0","Data":"ZWNobw=="}`
 * - binary: a big-endian u32 LENGTH of the rest, then meta, flags, name
 *   length, id length, [level], name, id, data.
 *
 * Each format has an encoder (a pure function of the message) and an
 * incremental decoder, fed bytes as they arrive, that returns the complete
 * messages. No Node imports: this file runs in browsers too.
 */

import { DecodeError } from "./errors.js";
import { hasLoneSurrogate, NAME_MAX, utf8, utf8Decoder, type Message } from "./protocol.js";

export const FLAG_HAS_DATA = 0x01;
export const FLAG_HAS_LEVEL = 0x02;
const FLAGS_RESERVED = 0xfc;

function checkByte(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 255) {
    throw new RangeError(`${what} must be an integer 0-255, not ${String(value)}`);
  }
  return value;
}

function nameBytes(what: string, value: string): Uint8Array {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
  if (hasLoneSurrogate(value)) throw new RangeError(`${what} is not valid UTF-8`);
  const b = utf8(value);
  if (b.length > NAME_MAX) throw new RangeError(`${what} is longer than ${NAME_MAX} bytes`);
  return b;
}

// ---------------------------------------------------------------------------
// Base64 (RFC 4648 section 4, padded), as Go's encoding/base64.StdEncoding.

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/** `data` as standard padded base64. */
export function base64Encode(data: Uint8Array): string {
  let out = "";
  const n = data.length;
  let i = 0;
  // Built in slices: string concatenation of single characters is slow
  // for megabytes, and String.fromCharCode takes a bounded argument list.
  const chunk: number[] = [];
  for (; i + 2 < n; i += 3) {
    const v = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    chunk.push(
      B64.charCodeAt(v >> 18),
      B64.charCodeAt((v >> 12) & 63),
      B64.charCodeAt((v >> 6) & 63),
      B64.charCodeAt(v & 63),
    );
    if (chunk.length >= 8192) {
      out += String.fromCharCode(...chunk);
      chunk.length = 0;
    }
  }
  if (i < n) {
    const v = (data[i]! << 16) | ((i + 1 < n ? data[i + 1]! : 0) << 8);
    chunk.push(B64.charCodeAt(v >> 18), B64.charCodeAt((v >> 12) & 63));
    chunk.push(i + 1 < n ? B64.charCodeAt((v >> 6) & 63) : 61, 61);
  }
  return out + String.fromCharCode(...chunk);
}

/**
 * Decode standard padded base64, as Go does: `\r` and `\n` are ignored,
 * the unused low bits of the last character need not be zero; anything
 * else that is not the alphabet, or missing padding, is a DecodeError.
 */
export function base64Decode(s: string): Uint8Array {
  if (s.includes("\r") || s.includes("\n")) s = s.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0) {
    throw new DecodeError("Data is not padded standard base64: its length is not a multiple of 4");
  }
  let pad = 0;
  if (s.endsWith("==")) pad = 2;
  else if (s.endsWith("=")) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      let d = c < 128 ? B64_VALUE[c]! : -1;
      if (d < 0) {
        if (c === 61 && last && j >= 4 - pad) d = 0;
        else throw new DecodeError(`Data is not padded standard base64: bad character at ${i + j}`);
      }
      v = (v << 6) | d;
    }
    out[o++] = (v >> 16) & 255;
    if (o < out.length) out[o++] = (v >> 8) & 255;
    if (o < out.length) out[o++] = v & 255;
  }
  return out;
}

// ---------------------------------------------------------------------------
// JSON: writing

const GO_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

// Everything Go's encoding/json (with its default HTML escaping) escapes,
// and surrogates: a pair is kept, a lone one stands for bytes that were
// not valid UTF-8 (no lookbehind: older browsers lack it).
const GO_ESCAPE_RE = /[\x00-\x1f"\\<>&\u2028\u2029]|[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g;

/**
 * `s` as a JSON string literal, quotes included, escaped exactly as Go's
 * encoding/json escapes it: `"`, `\`, `\n`, `\r`, `\t`; other control
 * characters as `\u00XX` (lower-case hex); `<`, `>`, `&`, U+2028 and
 * U+2029 as `\uXXXX`; a lone surrogate as `\ufffd`; everything else as
 * itself.
 */
export function goJsonString(s: string): string {
  return (
    '"' +
    s.replace(GO_ESCAPE_RE, (ch) => {
      if (ch.length === 2) return ch; // a surrogate pair: itself
      const esc = GO_ESCAPES[ch];
      if (esc !== undefined) return esc;
      const code = ch.charCodeAt(0);
      if (code >= 0xd800 && code <= 0xdfff) return "\\ufffd";
      return "\\u" + code.toString(16).padStart(4, "0");
    }) +
    '"'
  );
}

/** The JSON text of `msg`, with its trailing newline. */
export function encodeJsonText(msg: Message): string {
  const meta = checkByte("meta", msg.meta);
  nameBytes("otherClient", msg.otherClient);
  nameBytes("connectionId", msg.connectionId);
  const data = msg.data == null ? "null" : '"' + base64Encode(msg.data) + '"';
  let t =
    `{"Meta":${meta},"OtherClient":${goJsonString(msg.otherClient)},` +
    `"ConnectionID":${goJsonString(msg.connectionId)},"Data":${data}`;
  if (msg.level != null) t += `,"Level":${checkByte("level", msg.level)}`;
  return t + "}\n";
}

/**
 * One message in the JSON format, with its trailing newline: the bytes the
 * original Go translator writes (plus `"Level":N` when the message
 * announces a level).
 */
export function encodeJson(msg: Message): Uint8Array {
  return utf8(encodeJsonText(msg));
}

// ---------------------------------------------------------------------------
// JSON: reading

/** The keys of a message, lower case (keys are case-insensitive). */
const FIELDS = new Set(["meta", "otherclient", "connectionid", "data", "level"]);

/** Nesting deeper than this is an error, as in Go. */
const MAX_DEPTH = 10000;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function skipWs(t: string, pos: number): number {
  while (pos < t.length && isWs(t.charCodeAt(pos))) pos++;
  return pos;
}

function malformed(what: string, pos: number): DecodeError {
  return new DecodeError(`malformed JSON: ${what} at character ${pos}`);
}

/** The position after the string literal starting at `pos` (a `"`). */
function scanString(t: string, pos: number): number {
  let i = pos + 1;
  while (i < t.length) {
    const c = t.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) return i + 1;
    else i++;
  }
  throw malformed("an unterminated string", pos);
}

/**
 * The position after the JSON value at `pos`: found by its brackets and
 * strings only; JSON.parse checks the text later.
 */
function scanValue(t: string, pos: number): number {
  const c = t.charCodeAt(pos);
  if (c === 0x22) return scanString(t, pos);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    let i = pos;
    while (i < t.length) {
      const d = t.charCodeAt(i);
      if (d === 0x22) {
        i = scanString(t, i);
        continue;
      }
      if (d === 0x7b || d === 0x5b) {
        if (++depth > MAX_DEPTH) throw malformed(`nesting deeper than ${MAX_DEPTH}`, i);
      } else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return i + 1;
      }
      i++;
    }
    throw malformed("an unterminated value", pos);
  }
  let i = pos;
  while (i < t.length) {
    const d = t.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || isWs(d)) break;
    i++;
  }
  if (i === pos) throw malformed("expecting a value", pos);
  return i;
}

function checkStrings(_key: string, value: unknown): unknown {
  if ((typeof value === "string" && hasLoneSurrogate(value)) || hasLoneSurrogate(_key)) {
    throw new DecodeError("a string has a lone UTF-16 surrogate");
  }
  return value;
}

function parseJson(raw: string, pos: number): unknown {
  try {
    return JSON.parse(raw, checkStrings);
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw malformed(e instanceof Error ? e.message : String(e), pos);
  }
}

function byteValue(what: string, raw: string, value: unknown): number {
  if (!/^[0-9]+$/.test(raw) || typeof value !== "number" || value > 255) {
    throw new DecodeError(`${what} must be an integer 0-255`);
  }
  return value;
}

function nameValue(what: string, value: unknown): string {
  if (typeof value !== "string") throw new DecodeError(`${what} is not a string`);
  if (utf8(value).length > NAME_MAX) throw new DecodeError(`${what} is longer than ${NAME_MAX} bytes`);
  return value;
}

/**
 * The object at `t[pos]` (a `{`) as a message, and the position after it.
 * Keys are case-insensitive (the last one wins), unknown keys are checked
 * and ignored, missing keys are zero values.
 */
function parseObject(t: string, pos: number): [Message, number] {
  const msg: Message = { meta: 0, otherClient: "", connectionId: "", data: null, level: null };
  pos = skipWs(t, pos + 1);
  if (t.charCodeAt(pos) === 0x7d) return [msg, pos + 1];
  for (;;) {
    if (t.charCodeAt(pos) !== 0x22) throw malformed("expecting a key", pos);
    const keyEnd = scanString(t, pos);
    const key = parseJson(t.slice(pos, keyEnd), pos) as string;
    pos = skipWs(t, keyEnd);
    if (t.charCodeAt(pos) !== 0x3a) throw malformed("expecting ':'", pos);
    pos = skipWs(t, pos + 1);
    const valueEnd = scanValue(t, pos);
    const raw = t.slice(pos, valueEnd);
    const value = parseJson(raw, pos);
    const k = key.toLowerCase();
    if (FIELDS.has(k)) setField(msg, k, raw, value);
    pos = skipWs(t, valueEnd);
    const c = t.charCodeAt(pos);
    if (c === 0x7d) return [msg, pos + 1];
    if (c !== 0x2c) throw malformed("expecting ',' or '}'", pos);
    pos = skipWs(t, pos + 1);
  }
}

function setField(msg: Message, k: string, raw: string, value: unknown): void {
  if (k === "data") {
    if (value === null) msg.data = null;
    else if (typeof value === "string") msg.data = base64Decode(value);
    else throw new DecodeError("Data is neither null nor a string");
    return;
  }
  if (value === null) return; // null leaves the other fields alone, as in Go
  if (k === "meta") msg.meta = byteValue("Meta", raw, value);
  else if (k === "level") msg.level = byteValue("Level", raw, value);
  else if (k === "otherclient") msg.otherClient = nameValue("OtherClient", value);
  else msg.connectionId = nameValue("ConnectionID", value);
}

/** A growable byte buffer: append at the end, consume at the start. */
class ByteBuffer {
  private buf = new Uint8Array(4096);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  /** The bytes held, without copying (valid until the next append). */
  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.end + data.length > this.buf.length) {
      const need = this.length + data.length;
      if (need <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = this.buf.length;
        while (size < need) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.view());
        this.buf = grown;
      }
      this.end = this.length;
      this.start = 0;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  consume(n: number): void {
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
  }
}

/**
 * An incremental decoder: feed() it bytes as they arrive; it returns the
 * messages they complete. `maxSize` bounds one encoded message (and so the
 * bytes it keeps). After a DecodeError the stream is unusable.
 */
export interface Decoder {
  readonly maxSize: number;
  /** Bytes received and not yet returned as messages. */
  readonly buffered: number;
  /**
   * The error that ended the stream, once one did. When bytes hold valid
   * messages before an invalid one, feed() returns those and sets this;
   * the next feed() throws it.
   */
  readonly error: DecodeError | null;
  feed(data: Uint8Array): Message[];
}

/**
 * What both decoders share: the buffer, the size bound, and feed(), which
 * returns the messages before an error and keeps the error for the next
 * call. A subclass's decodeBuffered() takes whole messages off the buffer.
 */
abstract class StreamDecoder implements Decoder {
  readonly maxSize: number;
  error: DecodeError | null = null;
  protected buf = new ByteBuffer();

  constructor(maxSize: number) {
    if (maxSize < 16) throw new RangeError("maxSize too small");
    this.maxSize = maxSize;
  }

  get buffered(): number {
    return this.buf.length;
  }

  feed(data: Uint8Array): Message[] {
    if (this.error) throw this.error;
    this.buf.append(data);
    const out: Message[] = [];
    try {
      this.decodeBuffered(out);
    } catch (e) {
      const error = e instanceof DecodeError ? e : new DecodeError(String(e));
      this.error = error;
      if (out.length === 0) throw error;
    }
    return out;
  }

  /** Append to `out` every whole message at the front of the buffer. */
  protected abstract decodeBuffered(out: Message[]): void;
}

/**
 * Reads the JSON format: objects separated by JSON whitespace, in practice
 * one per line as the broker writes them.
 */
export class JsonDecoder extends StreamDecoder {
  private scanned = 0; // bytes of buf known to hold no newline

  protected decodeBuffered(out: Message[]): void {
    for (;;) {
      const bytes = this.buf.view();
      const nl = bytes.indexOf(0x0a, this.scanned);
      if (nl < 0) {
        this.scanned = bytes.length;
        break;
      }
      const line = bytes.subarray(0, nl);
      let t: string;
      try {
        t = utf8Decoder.decode(line);
      } catch {
        throw new DecodeError("a JSON message is not valid UTF-8");
      }
      this.buf.consume(nl + 1);
      this.scanned = 0;
      this.decodeLine(t, out);
    }
    this.checkPending();
  }

  /** The bytes without a newline yet may not pass the size limit. */
  private checkPending(): void {
    const bytes = this.buf.view();
    if (bytes.length <= this.maxSize) return;
    let ws = 0;
    while (ws < bytes.length && isWs(bytes[ws]!)) ws++;
    const rest = bytes.length - ws;
    if (rest === 0 || rest > this.maxSize || ws > this.maxSize) {
      throw new DecodeError(`a JSON message longer than ${this.maxSize} bytes`);
    }
  }

  private decodeLine(t: string, out: Message[]): void {
    let pos = 0;
    for (;;) {
      pos = skipWs(t, pos);
      if (pos >= t.length) return;
      if (t.charCodeAt(pos) !== 0x7b) throw new DecodeError("the top level is not a JSON object");
      const begin = pos;
      const [msg, end] = parseObject(t, pos);
      pos = end;
      if (end - begin > this.maxSize / 3 && utf8(t.slice(begin, end)).length > this.maxSize) {
        throw new DecodeError(`a JSON message longer than ${this.maxSize} bytes`);
      }
      out.push(msg);
    }
  }
}

/** Decode complete JSON text (every message ended by a newline). */
export function decodeJson(data: Uint8Array | string, maxSize = 1 << 30): Message[] {
  const d = new JsonDecoder(maxSize);
  const msgs = d.feed(typeof data === "string" ? utf8(data) : data);
  if (d.error) throw d.error;
  if (d.buffered) {
    // A last object without its newline is complete too (a WebSocket
    // message need not end with one).
    msgs.push(...d.feed(new Uint8Array([0x0a])));
    if (d.error) throw d.error;
  }
  return msgs;
}

// ---------------------------------------------------------------------------
// Binary

/** One message in the binary format. */
export function encodeBinary(msg: Message): Uint8Array {
  const meta = checkByte("meta", msg.meta);
  const name = nameBytes("otherClient", msg.otherClient);
  const id = nameBytes("connectionId", msg.connectionId);
  const data = msg.data ?? new Uint8Array(0);
  let flags = msg.data == null ? 0 : FLAG_HAS_DATA;
  const hasLevel = msg.level != null;
  if (hasLevel) flags |= FLAG_HAS_LEVEL;
  const length = 4 + (hasLevel ? 1 : 0) + name.length + id.length + data.length;
  if (length > 0xffffffff) throw new RangeError("message too long for the binary format");
  const out = new Uint8Array(4 + length);
  new DataView(out.buffer).setUint32(0, length);
  out[4] = meta;
  out[5] = flags;
  out[6] = name.length;
  out[7] = id.length;
  let pos = 8;
  if (hasLevel) out[pos++] = checkByte("level", msg.level);
  out.set(name, pos);
  pos += name.length;
  out.set(id, pos);
  pos += id.length;
  out.set(data, pos);
  return out;
}

function decodeName(b: Uint8Array): string {
  try {
    return utf8Decoder.decode(b);
  } catch {
    throw new DecodeError("a name in a binary frame is not valid UTF-8");
  }
}

/** One frame's body (after the length) as a message. */
function decodeFrame(frame: Uint8Array): Message {
  if (frame.length < 4) throw new DecodeError("a binary frame shorter than its header");
  const meta = frame[0]!;
  const flags = frame[1]!;
  const nameLen = frame[2]!;
  const idLen = frame[3]!;
  if (flags & FLAGS_RESERVED) throw new DecodeError("reserved flag bits set in a binary frame");
  let pos = 4;
  let level: number | null = null;
  if (flags & FLAG_HAS_LEVEL) {
    if (frame.length < 5) throw new DecodeError("a binary frame too short for its level");
    level = frame[4]!;
    pos = 5;
  }
  if (frame.length < pos + nameLen + idLen) {
    throw new DecodeError("a binary frame too short for its names");
  }
  const otherClient = decodeName(frame.subarray(pos, pos + nameLen));
  const connectionId = decodeName(frame.subarray(pos + nameLen, pos + nameLen + idLen));
  pos += nameLen + idLen;
  let data: Uint8Array | null = null;
  if (flags & FLAG_HAS_DATA) data = frame.slice(pos);
  else if (pos !== frame.length) {
    throw new DecodeError("data bytes in a binary frame without HAS_DATA");
  }
  return { meta, otherClient, connectionId, data, level };
}

/** Reads the binary format: length-prefixed frames back to back. */
export class BinaryDecoder extends StreamDecoder {
  protected decodeBuffered(out: Message[]): void {
    for (;;) {
      const bytes = this.buf.view();
      if (bytes.length < 4) break;
      const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
      if (length + 4 > this.maxSize) {
        throw new DecodeError(`a binary frame of ${length + 4} bytes is over ${this.maxSize}`);
      }
      if (bytes.length < 4 + length) break;
      out.push(decodeFrame(bytes.subarray(4, 4 + length)));
      this.buf.consume(4 + length);
    }
  }
}

/** Decode complete binary frames. */
export function decodeBinary(data: Uint8Array, maxSize = 1 << 30): Message[] {
  const d = new BinaryDecoder(maxSize);
  const msgs = d.feed(data);
  if (d.error) throw d.error;
  if (d.buffered) throw new DecodeError("an incomplete binary frame at the end");
  return msgs;
}

// ---------------------------------------------------------------------------
// The registry

/**
 * The longest JSON line the broker writes for a message it accepted under
 * `maxMessageSize` (base64 is 4/3, both names may escape to 6 bytes a
 * byte, plus the keys and punctuation).
 */
export function jsonWorstCase(maxMessageSize: number): number {
  return 96 + 2 * 6 * NAME_MAX + 4 * Math.floor((maxMessageSize + 2) / 3);
}

/** The longest binary frame the broker writes for such a message. */
export function binaryWorstCase(maxMessageSize: number): number {
  return 4 + 5 + 2 * NAME_MAX + maxMessageSize;
}

/** A wire format: its name, encoder, decoder factory and worst case. */
export interface Codec {
  readonly name: "json" | "binary";
  encode(msg: Message): Uint8Array;
  decoder(maxSize: number): Decoder;
  maxReceivedSize(maxMessageSize: number): number;
}

export const JSON_CODEC: Codec = Object.freeze({
  name: "json" as const,
  encode: encodeJson,
  decoder: (maxSize: number) => new JsonDecoder(maxSize),
  maxReceivedSize: jsonWorstCase,
});

export const BINARY_CODEC: Codec = Object.freeze({
  name: "binary" as const,
  encode: encodeBinary,
  decoder: (maxSize: number) => new BinaryDecoder(maxSize),
  maxReceivedSize: binaryWorstCase,
});

/** The codec called `name` ("json" or "binary"). */
export function getCodec(name: string): Codec {
  if (name === "json") return JSON_CODEC;
  if (name === "binary") return BINARY_CODEC;
  throw new RangeError(`unknown wire format ${JSON.stringify(name)} (json or binary)`);
}
