/**
 * mpclient for browsers: ws:// and wss:// addresses through the global
 * WebSocket. No Node imports: a page may import dist/browser.js directly
 * (with the other files of dist/ beside it).
 */

import { setDefaultTransport } from "./client.js";
import { browserTransport } from "./transport-browser.js";

setDefaultTransport(browserTransport);

export * from "./api.js";
export { browserTransport };
