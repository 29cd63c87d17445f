/**
 * mpclient for Node (>= 18): tcp:, unix:, tls:, ws:// and wss:// addresses.
 * Browsers get browser.ts (the "browser" condition of the package's exports).
 */

import { Client, connect as connectWith, setDefaultTransport } from "./client.js";
import type { ClientOptions } from "./options.js";
import type { Payload } from "./protocol.js";
import { nodeTransport } from "./transport-node.js";

// new Client() without a transport option uses Node's transports.
setDefaultTransport(nodeTransport);

export * from "./api.js";
export { nodeTransport };

/**
 * Create a Client (same arguments as new Client()), log it in and resolve
 * with it: `await connect("tcp:127.0.0.1:7330", "alice", "secret", { handlers })`.
 */
export function connect(
  address: string | string[],
  name: string,
  secret: Payload = "",
  options: ClientOptions = {},
): Promise<Client> {
  return connectWith(address, name, secret, { transport: nodeTransport, ...options });
}
