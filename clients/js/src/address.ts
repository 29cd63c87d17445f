/**
 * Broker addresses: "tcp:HOST:PORT", "tls:HOST:PORT", "unix:PATH",
 * "ws://HOST:PORT/PATH" and "wss://HOST:PORT/PATH".
 */

export interface Address {
  scheme: "tcp" | "tls" | "unix" | "ws" | "wss";
  host: string;
  port: number;
  path: string;
  /** The WebSocket URL (ws and wss only). */
  url: string;
}

/** The address as text, as parseAddress reads it. */
export function formatAddress(a: Address): string {
  if (a.scheme === "unix") return `unix:${a.path}`;
  if (a.scheme === "ws" || a.scheme === "wss") return a.url;
  const host = a.host.includes(":") ? `[${a.host}]` : a.host;
  return `${a.scheme}:${host}:${a.port}`;
}

function bad(text: string, want: string): RangeError {
  return new RangeError(`bad broker address ${JSON.stringify(text)}: want ${want}`);
}

const WANT =
  "tcp:HOST:PORT, tls:HOST:PORT, unix:PATH, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH";

/** Parse a broker address; throw a RangeError that says what is wanted. */
export function parseAddress(text: string): Address {
  if (typeof text !== "string") throw new TypeError("a broker address is a string");
  if (text.startsWith("ws://") || text.startsWith("wss://")) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw bad(text, "ws://HOST:PORT/PATH");
    }
    if (!url.hostname) throw bad(text, "ws://HOST:PORT/PATH");
    const scheme = url.protocol === "wss:" ? "wss" : "ws";
    const port = url.port ? Number(url.port) : scheme === "wss" ? 443 : 80;
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    return { scheme, host, port, path: url.pathname + url.search, url: url.toString() };
  }
  const colon = text.indexOf(":");
  const scheme = colon < 0 ? "" : text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (scheme !== "tcp" && scheme !== "tls" && scheme !== "unix") throw bad(text, WANT);
  if (scheme === "unix") {
    if (!rest) throw bad(text, "unix:PATH (the path is empty)");
    return { scheme, host: "", port: 0, path: rest, url: "" };
  }
  let host: string;
  let portText: string;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0 || rest[close + 1] !== ":") throw bad(text, `${scheme}:[HOST]:PORT`);
    host = rest.slice(1, close);
    portText = rest.slice(close + 2);
  } else {
    const last = rest.lastIndexOf(":");
    if (last < 0) throw bad(text, `${scheme}:HOST:PORT`);
    host = rest.slice(0, last);
    portText = rest.slice(last + 1);
    if (host.includes(":")) throw bad(text, `${scheme}:HOST:PORT ([HOST] for IPv6)`);
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : 0;
  if (!host || port < 1 || port > 65535) throw bad(text, `${scheme}:HOST:PORT`);
  return { scheme, host, port, path: "", url: "" };
}
