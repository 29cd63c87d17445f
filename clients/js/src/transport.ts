/**
 * What the client needs of a transport to the broker, and the WebSocket
 * transport shared by Node and browsers. No Node imports here.
 */

import type { Address } from "./address.js";
import { ConnectError } from "./errors.js";
import { utf8, utf8Decoder } from "./protocol.js";

/** Where a transport delivers what it receives. */
export interface TransportSink {
  /** Bytes from the broker: a chunk of a stream, or one whole WebSocket message. */
  data(chunk: Uint8Array): void;
  /** The transport ended (once): `why` says how. */
  closed(why: string): void;
}

/** A connected transport. */
export interface Transport {
  /** Queue bytes (one whole encoded message for a WebSocket). */
  write(data: Uint8Array): void;
  /** True while more than the high-water mark is queued. */
  readonly full: boolean;
  /** Resolves once not full any more (or the transport ended). */
  waitRoom(): Promise<void>;
  /** Graceful end: send what is queued, then close (the broker closes its side). */
  end(): void;
  /** Drop the connection at once. */
  destroy(): void;
  /** Stop / start delivering data (flow control); may be a no-op. */
  pause(): void;
  resume(): void;
  /** True for transports that deliver whole messages (WebSocket). */
  readonly messages: boolean;
}

/** TLS options for tls: and wss: addresses (Node only). */
export interface TlsOptions {
  /** PEM text of the CA(s) to verify the broker with (default: the system's). */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** PEM text of the client certificate, for brokers that ask for one. */
  cert?: string | Uint8Array;
  /** PEM text of its private key. */
  key?: string | Uint8Array;
  /** The name the broker's certificate must carry (default: the address's host). */
  servername?: string;
}

export interface TransportOptions extends TlsOptions {
  format: "json" | "binary";
  keepaliveMs: number;
  signal: AbortSignal;
}

export type TransportFactory = (
  address: Address,
  options: TransportOptions,
  sink: TransportSink,
) => Promise<Transport>;

/** The subprotocol naming a wire format (ws-contract). */
export function subprotocol(format: "json" | "binary"): string {
  return `mpbroker.${format}`;
}

/** How many bytes a WebSocket may hold unsent before senders wait. */
const WS_HIGH_WATER = 1 << 20;

/** How often a waiting sender looks at a WebSocket's bufferedAmount. */
const WS_POLL_MS = 5;

/** The part of the WebSocket API (browsers' and the ws package's) we use. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly protocol: string;
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate?(): void;
  pause?(): void;
  resume?(): void;
}

export type WebSocketMaker = (url: string, protocols: string[]) => WebSocketLike;

function errorText(ev: unknown): string {
  if (ev && typeof ev === "object") {
    const e = ev as { message?: unknown; error?: { message?: unknown } };
    if (typeof e.message === "string" && e.message) return e.message;
    if (e.error && typeof e.error.message === "string") return e.error.message;
  }
  return "the WebSocket connection failed";
}

/**
 * Open a WebSocket to `url` offering the subprotocol of `format`, and
 * resolve with a Transport once it is open. JSON goes in text messages,
 * binary in binary messages, one mpbroker message per WebSocket message.
 */
export function openWebSocket(
  make: WebSocketMaker,
  url: string,
  options: TransportOptions,
  sink: TransportSink,
): Promise<Transport> {
  return new Promise<Transport>((resolve, reject) => {
    const wanted = subprotocol(options.format);
    let ws: WebSocketLike;
    try {
      ws = make(url, [wanted]);
    } catch (e) {
      reject(new ConnectError(`cannot connect to ${url}: ${errorText(e)}`, { permanent: true, cause: e }));
      return;
    }
    ws.binaryType = "arraybuffer";
    let open = false;
    let ended = false;
    let lastError = "";
    const json = options.format === "json";
    const transport: Transport = {
      messages: true,
      write(data: Uint8Array): void {
        if (ws.readyState !== 1) return;
        ws.send(json ? utf8Decoder.decode(data) : data);
      },
      get full(): boolean {
        return ws.bufferedAmount > WS_HIGH_WATER;
      },
      waitRoom(): Promise<void> {
        // Neither browsers nor ws have a "drain" event on the WebSocket.
        return new Promise<void>((done) => {
          const look = (): void => {
            if (ended || ws.bufferedAmount <= WS_HIGH_WATER) done();
            else setTimeout(look, WS_POLL_MS);
          };
          look();
        });
      },
      end(): void {
        if (ws.readyState <= 1) ws.close(1000);
      },
      destroy(): void {
        if (ws.terminate) ws.terminate();
        else if (ws.readyState <= 1) ws.close(1000);
      },
      pause(): void {
        ws.pause?.();
      },
      resume(): void {
        ws.resume?.();
      },
    };
    const abort = (): void => {
      transport.destroy();
    };
    options.signal.addEventListener("abort", abort, { once: true });
    ws.onopen = () => {
      open = true;
      options.signal.removeEventListener("abort", abort);
      if (ws.protocol && ws.protocol !== wanted) {
        transport.destroy();
        reject(
          new ConnectError(
            `${url}: the broker answered with subprotocol ${ws.protocol}, not ${wanted}`,
            { permanent: true },
          ),
        );
        return;
      }
      resolve(transport);
    };
    ws.onerror = (ev) => {
      lastError = errorText(ev);
    };
    ws.onmessage = (ev) => {
      const d = ev.data;
      if (typeof d === "string") {
        // The broker ends each JSON object with "\n"; a peer need not.
        sink.data(utf8(d.endsWith("\n") ? d : d + "\n"));
      } else if (d instanceof ArrayBuffer) {
        sink.data(new Uint8Array(d));
      } else if (ArrayBuffer.isView(d)) {
        sink.data(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      }
    };
    ws.onclose = (ev) => {
      ended = true;
      options.signal.removeEventListener("abort", abort);
      if (!open) {
        const why = lastError || `closed with code ${ev.code}`;
        // An HTTP refusal (wrong path, Origin, subprotocol) will not change.
        const permanent = /Unexpected server response: 4\d\d/.test(why);
        reject(new ConnectError(`cannot connect to ${url}: ${why}`, { permanent }));
        return;
      }
      sink.closed(
        `the WebSocket was closed (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`,
      );
    };
  });
}
