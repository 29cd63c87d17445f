// WebSocket (ws://) against the broker's WebSocket listeners: JSON and
// binary, auto and fixed-format listeners, refusals, the loss of the broker.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { AuthError, BrokerLost, ConnectError, connect, NameTaken, UnknownProtocol } from "../dist/index.js";
import { Broker, within } from "./support/broker.mjs";

let broker;
let seq = 0;
const uniq = (base) => `${base}${++seq}`;

before(async () => {
  broker = await Broker.start(
    'authenticators = ( { module = "auth_passwd.so"; options = { file = "@DIR@/passwd"; }; } );\n' +
      'duplicate_names = "reject";\n' +
      "listeners = (\n" +
      '  { address = "127.0.0.1"; port = 0; translator = "auto"; websocket = { path = "/mp"; }; },\n' +
      '  { address = "127.0.0.1"; port = 0; translator = "json"; websocket = { path = "/json"; }; },\n' +
      '  { address = "127.0.0.1"; port = 0; translator = "binary"; websocket = { path = "/bin"; }; },\n' +
      '  { address = "127.0.0.1"; port = 0; translator = "binary"; },\n' +
      '  { address = "127.0.0.1"; port = 0; translator = "json"; } );\n',
    {
      setup: (b) => {
        const users = {};
        for (let i = 0; i < 40; i++) users[`u${i}`] = "pw";
        b.writePasswd(users);
      },
    },
  );
});

after(async () => {
  await broker?.cleanup();
});

const user = () => `u${seq++}`;

async function echo(conn) {
  for await (const m of conn) await conn.send(m);
}

const CASES = [
  ["json over an auto listener", () => broker.wsUrl("auto"), "json"],
  ["binary over an auto listener", () => broker.wsUrl("auto"), "binary"],
  ["json over a json listener", () => broker.wsUrl("json", "ws", "/json"), "json"],
  ["binary over a binary listener", () => broker.wsUrl("binary", "ws", "/bin"), "binary"],
];

for (const [label, url, format] of CASES) {
  test(`ws: ${label}: echo with TCP peers of both formats, request/reply`, async () => {
    const wsServer = await connect(url(), user(), "pw", { format, handlers: { echo } });
    wsServer.handleRequests("upper", (d) => new TextDecoder().decode(d).toUpperCase());
    for (const tcpFormat of ["json", "binary"]) {
      const tcp = await connect(broker.address(tcpFormat), user(), "pw", { format: tcpFormat });
      const conn = await tcp.open(wsServer.name, "echo");
      const big = Uint8Array.from({ length: 100000 }, (_, i) => i & 255);
      for (const m of ["hello", "", "<&>\n\"é😀"]) {
        await conn.send(m);
        assert.equal(await within(conn.recvText(), 5000, "the echo"), m);
      }
      await conn.send(big);
      assert.deepEqual(await within(conn.recv(), 5000, "the big echo"), big);
      assert.equal(new TextDecoder().decode(await tcp.request(wsServer.name, "upper", "ws")), "WS");
      await conn.close();
      await tcp.close();
    }
    // And the WebSocket client opens too.
    const wsClient = await connect(url(), user(), "pw", { format });
    const conn = await wsClient.open(wsServer.name, "echo");
    for (let i = 0; i < 100; i++) await conn.send(`m${i}`);
    for (let i = 0; i < 100; i++) assert.equal(await conn.recvText(), `m${i}`);
    await assert.rejects(wsClient.open(wsServer.name, "nope"), UnknownProtocol);
    assert.equal(wsClient.level, 2);
    await wsClient.close();
    await wsServer.close();
    await wsServer.closed;
  });
}

test("ws: login refused: wrong secret, name taken", async () => {
  const url = broker.wsUrl("auto");
  await assert.rejects(connect(url, "u39", "wrong", { format: "json" }), (e) => {
    assert.ok(e instanceof AuthError && !(e instanceof NameTaken), String(e));
    assert.equal(e.reason, "invalid name or secret");
    return true;
  });
  const name = user();
  const first = await connect(url, name, "pw");
  await assert.rejects(connect(url, name, "pw"), NameTaken);
  await first.close();
});

// The ws package reports the HTTP status of a refused handshake; a global
// WebSocket (Node >= 22, browsers) only that the connection failed.
const WS_PACKAGE = globalThis.WebSocket === undefined;

test("ws: handshake refusals are permanent ConnectErrors", async () => {
  // Wrong path: 404.
  await assert.rejects(connect(broker.wsUrl("auto", "ws", "/nope"), user(), "pw"), (e) => {
    assert.ok(e instanceof ConnectError, String(e));
    if (WS_PACKAGE) assert.ok(e.permanent && /404/.test(e.message), String(e));
    return true;
  });
  // A format the listener does not speak: 400.
  await assert.rejects(connect(broker.wsUrl("json", "ws", "/json"), user(), "pw", { format: "binary" }), (e) => {
    assert.ok(e instanceof ConnectError, String(e));
    if (WS_PACKAGE) assert.ok(e.permanent && /400/.test(e.message), String(e));
    return true;
  });
  // Nothing listening.
  await assert.rejects(connect("ws://127.0.0.1:1/mp", user(), "pw"), (e) => e instanceof ConnectError && !e.permanent);
});

test("ws: the broker going away is BrokerLost; reconnect comes back", async () => {
  const b = await Broker.start(
    'authenticators = ( { module = "auth_allow_all.so"; } );\n' +
      'listeners = ( { address = "127.0.0.1"; port = 0; translator = "auto"; websocket = { path = "/mp"; }; } );\n',
  );
  let b2;
  const clients = [];
  try {
    const url = b.wsUrl("auto");
    const plain = await connect(url, "plain", "", { format: "json" });
    clients.push(plain);
    let back;
    const reconnected = new Promise((r) => (back = r));
    const again = await connect(url, "again", "", {
      reconnect: true,
      reconnectInitialMs: 20,
      reconnectMaxMs: 100,
      logger: {},
      onReconnected: () => back(),
    });
    clients.push(again);
    const port = b.listeners[0].port;
    await b.kill();
    await assert.rejects(within(plain.closed, 5000, "the loss"), BrokerLost);
    b2 = await Broker.start(
      'authenticators = ( { module = "auth_allow_all.so"; } );\n' +
        `listeners = ( { address = "127.0.0.1"; port = ${port}; translator = "auto"; websocket = { path = "/mp"; }; } );\n`,
    );
    await within(reconnected, 10000, "the reconnect");
    assert.ok(again.loggedIn);
    await again.close();
  } finally {
    for (const c of clients) c.abort();
    await b.cleanup();
    await b2?.cleanup();
  }
});
