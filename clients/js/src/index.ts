/**
 * mpclient for Node (>= 18): tcp:, unix:, tls:, ws:// and wss:// addresses.
 * Browsers get browser.ts (the "browser" condition of the package's exports).
 */

import { setDefaultTransport } from "./client.js";
import { nodeTransport } from "./transport-node.js";

setDefaultTransport(nodeTransport);

export * from "./api.js";
export { nodeTransport };
