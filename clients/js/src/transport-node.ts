/**
 * Node transports: tcp: and unix: (net), tls: (tls), ws:/wss: (the global
 * WebSocket when Node has one and no TLS option is given, else the ws
 * package).
 */

import * as net from "node:net";
import * as tls from "node:tls";

import type { Address } from "./address.js";
import { ConnectError, TlsError } from "./errors.js";
import {
  openWebSocket,
  type Transport,
  type TransportFactory,
  type TransportOptions,
  type TransportSink,
  type WebSocketLike,
  type WebSocketMaker,
} from "./transport.js";

/** A net.Socket (or TLSSocket) as a Transport. */
class SocketTransport implements Transport {
  readonly messages = false;
  private ended = false;
  private error = "";

  constructor(
    private readonly sock: net.Socket,
    sink: TransportSink,
  ) {
    sock.on("data", (b: Buffer) => sink.data(new Uint8Array(b.buffer, b.byteOffset, b.length)));
    sock.on("error", (e: Error) => {
      this.error = e.message;
    });
    sock.on("close", () => {
      this.ended = true;
      sink.closed(this.error ? `the connection failed: ${this.error}` : "the broker closed the connection");
    });
  }

  write(data: Uint8Array): void {
    if (!this.ended && this.sock.writable) this.sock.write(data);
  }

  get full(): boolean {
    return this.sock.writableNeedDrain;
  }

  waitRoom(): Promise<void> {
    if (this.ended || !this.sock.writableNeedDrain) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.sock.off("drain", done);
        this.sock.off("close", done);
        resolve();
      };
      this.sock.on("drain", done);
      this.sock.on("close", done);
    });
  }

  end(): void {
    // Half-close: the broker reads to the end, then closes its side.
    this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }

  pause(): void {
    this.sock.pause();
  }

  resume(): void {
    this.sock.resume();
  }
}

function isTlsFailure(e: NodeJS.ErrnoException): boolean {
  const code = String(e.code ?? "");
  return (
    code.startsWith("ERR_SSL") ||
    code.startsWith("ERR_TLS") ||
    /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME/.test(code) ||
    /certificate|handshake|alert/i.test(e.message)
  );
}

function isIp(host: string): boolean {
  return net.isIP(host) !== 0;
}

function connectSocket(
  address: Address,
  options: TransportOptions,
  sink: TransportSink,
): Promise<Transport> {
  return new Promise<Transport>((resolve, reject) => {
    let sock: net.Socket;
    const useTls = address.scheme === "tls";
    if (address.scheme === "unix") {
      sock = net.connect({ path: address.path });
    } else if (useTls) {
      const servername = options.servername ?? (isIp(address.host) ? undefined : address.host);
      // autoSelectFamily (RFC 8305) is passed on to net.connect.
      const tlsOptions: tls.ConnectionOptions & { autoSelectFamily?: boolean } = {
        host: address.host,
        port: address.port,
        ca: options.ca as tls.ConnectionOptions["ca"],
        cert: options.cert as tls.ConnectionOptions["cert"],
        key: options.key as tls.ConnectionOptions["key"],
        servername,
        // Verify the broker's name against servername when given (an IP
        // address otherwise), as the Python client's server_hostname.
        checkServerIdentity: (_host, cert) =>
          tls.checkServerIdentity(options.servername ?? address.host, cert),
        minVersion: "TLSv1.2",
        autoSelectFamily: true,
      };
      sock = tls.connect(tlsOptions);
    } else {
      sock = net.connect({ host: address.host, port: address.port, autoSelectFamily: true });
    }
    const onError = (e: NodeJS.ErrnoException): void => {
      cleanup();
      sock.destroy();
      if (useTls && (sock.connecting === false || isTlsFailure(e)) && e.code !== "ECONNREFUSED") {
        reject(new TlsError(`TLS with ${address.host}:${address.port} failed: ${e.message}`, { cause: e }));
        return;
      }
      reject(new ConnectError(connectErrorText(address, e), { cause: e }));
    };
    const onAbort = (): void => {
      cleanup();
      sock.destroy();
      reject(new ConnectError(`connecting to ${address.host || address.path} was aborted`));
    };
    const onConnect = (): void => {
      cleanup();
      if (address.scheme !== "unix" && options.keepaliveMs > 0) {
        sock.setKeepAlive(true, options.keepaliveMs);
      }
      sock.setNoDelay(true);
      resolve(new SocketTransport(sock, sink));
    };
    const cleanup = (): void => {
      sock.off("error", onError);
      sock.off(useTls ? "secureConnect" : "connect", onConnect);
      options.signal.removeEventListener("abort", onAbort);
    };
    sock.on("error", onError);
    sock.on(useTls ? "secureConnect" : "connect", onConnect);
    options.signal.addEventListener("abort", onAbort, { once: true });
  });
}

function connectErrorText(address: Address, e: NodeJS.ErrnoException): string {
  const where =
    address.scheme === "unix" ? `unix:${address.path}` : `${address.scheme}:${address.host}:${address.port}`;
  if (e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") {
    return `cannot connect to ${where}: cannot resolve ${JSON.stringify(address.host)} (check the host name)`;
  }
  return `cannot connect to ${where}: ${e.message} (is the broker running, with a listener at that address?)`;
}

type WsCtor = new (url: string, protocols: string[], options?: object) => WebSocketLike;

let wsPackage: Promise<WsCtor> | null = null;

/** The ws package's WebSocket, loaded once, when first needed. */
function loadWs(): Promise<WsCtor> {
  wsPackage ??= import("ws").then((m) => (m.WebSocket ?? m.default) as unknown as WsCtor);
  return wsPackage;
}

async function connectWebSocket(
  address: Address,
  options: TransportOptions,
  sink: TransportSink,
): Promise<Transport> {
  const hasTlsOptions =
    options.ca !== undefined || options.cert !== undefined || options.key !== undefined ||
    options.servername !== undefined;
  const global = (globalThis as { WebSocket?: WsCtor }).WebSocket;
  let make: WebSocketMaker;
  if (global && !hasTlsOptions) {
    make = (url, protocols) => new global(url, protocols);
  } else {
    const Ws = await loadWs();
    const wsOptions = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      servername: options.servername,
      perMessageDeflate: false,
    };
    make = (url, protocols) => new Ws(url, protocols, wsOptions);
  }
  return openWebSocket(make, address.url, options, sink);
}

/** The Node transport factory: every address scheme. */
export const nodeTransport: TransportFactory = (address, options, sink) => {
  if (address.scheme === "ws" || address.scheme === "wss") {
    return connectWebSocket(address, options, sink);
  }
  return connectSocket(address, options, sink);
};
