/**
 * mpclient for browsers: ws:// and wss:// addresses through the global
 * WebSocket. No Node imports: a page may import dist/browser.js directly
 * (with the other files of dist/ beside it).
 */

import { Client, connect as connectWith, setDefaultTransport } from "./client.js";
import type { ClientOptions } from "./options.js";
import type { Payload } from "./protocol.js";
import { browserTransport } from "./transport-browser.js";

// new Client() without a transport option uses the global WebSocket
// (unless the Node entry point is loaded too: its transports do WebSocket).
setDefaultTransport(browserTransport, true);

export * from "./api.js";
export { browserTransport };

/**
 * Create a Client (same arguments as new Client()), log it in and resolve
 * with it: `await connect("ws://127.0.0.1:7380/mp", "alice", "secret", { format: "json" })`.
 */
export function connect(
  address: string | string[],
  name: string,
  secret: Payload = "",
  options: ClientOptions = {},
): Promise<Client> {
  return connectWith(address, name, secret, { transport: browserTransport, ...options });
}
