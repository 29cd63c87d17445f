// The browser entry point: no Node imports anywhere in what it loads, and
// it works with a WebSocket global of the browser API (here the ws
// package's, which has the same constructor and events).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Broker, within } from "./support/broker.mjs";

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "../dist");

/** Every module dist/browser.js loads, following relative imports. */
function importGraph(entry) {
  const seen = new Set();
  const bare = [];
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith(".")) walk(join(dirname(file), spec));
      else bare.push(`${file}: ${spec}`);
    }
  };
  walk(entry);
  return { files: [...seen], bare };
}

test("dist/browser.js imports nothing but its own relative files", () => {
  const { files, bare } = importGraph(join(DIST, "browser.js"));
  assert.deepEqual(bare, []);
  assert.ok(files.some((f) => f.endsWith("client.js")));
  assert.ok(!files.some((f) => f.endsWith("transport-node.js")));
});

let broker;
before(async () => {
  broker = await Broker.start(
    'authenticators = ( { module = "auth_allow_all.so"; } );\n' +
      "listeners = (\n" +
      '  { address = "127.0.0.1"; port = 0; translator = "auto"; websocket = { path = "/mp"; origins = [ "http://127.0.0.1:8080" ]; }; },\n' +
      '  { address = "127.0.0.1"; port = 0; translator = "binary"; } );\n',
  );
});
after(async () => {
  await broker?.cleanup();
});

test("the browser entry talks to a Node client through the broker", async () => {
  const { WebSocket } = await import("ws");
  const hadGlobal = "WebSocket" in globalThis;
  const saved = globalThis.WebSocket;
  // A browser sends its page's Origin; the broker checks it.
  globalThis.WebSocket = class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { origin: "http://127.0.0.1:8080" });
    }
  };
  try {
    const web = await import("../dist/browser.js");
    const node = await import("../dist/index.js");
    for (const format of ["json", "binary"]) {
      const page = await web.connect(broker.wsUrl("auto"), `page-${format}`, "", { format });
      const peer = await node.connect(broker.address("binary"), `peer-${format}`, "");
      peer.handleRequests("hello", (d) => `hello, ${new TextDecoder().decode(d)}`);
      assert.equal(new TextDecoder().decode(await page.request(peer.name, "hello", "page")), "hello, page");
      await assert.rejects(web.connect(`tcp:127.0.0.1:${broker.listeners[1].port}`, "x", ""), web.ConnectError);
      await page.close();
      await peer.close();
    }
    // Another Origin is refused (403).
    globalThis.WebSocket = class extends WebSocket {
      constructor(url, protocols) {
        super(url, protocols, { origin: "http://evil.example" });
      }
    };
    await assert.rejects(within(web.connect(broker.wsUrl("auto"), "evil", ""), 5000, "the refusal"), /403/);
  } finally {
    if (hadGlobal) globalThis.WebSocket = saved;
    else delete globalThis.WebSocket;
  }
});
