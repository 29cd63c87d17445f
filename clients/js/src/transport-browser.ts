/** The browser transport: ws:// and wss:// with the global WebSocket. */

import { ConnectError } from "./errors.js";
import { openWebSocket, type TransportFactory, type WebSocketLike } from "./transport.js";

type WsCtor = new (url: string, protocols: string[]) => WebSocketLike;

export const browserTransport: TransportFactory = (address, options, sink) => {
  if (address.scheme !== "ws" && address.scheme !== "wss") {
    return Promise.reject(
      new ConnectError(
        `a browser can only reach the broker over WebSocket (ws:// or wss://), not ${address.scheme}:`,
        { permanent: true },
      ),
    );
  }
  const Ws = (globalThis as { WebSocket?: WsCtor }).WebSocket;
  if (!Ws) {
    return Promise.reject(new ConnectError("this environment has no WebSocket", { permanent: true }));
  }
  return openWebSocket((url, protocols) => new Ws(url, protocols), address.url, options, sink);
};
