// The client against fake brokers (no mpbroker process): exact login
// bytes, wrong or missing answers, garbage after the login, idleTimeoutMs,
// and the WebSocket contract (subprotocols, text messages with or without
// the "\n", close codes).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { WebSocketServer } from "ws";

import {
  BrokerLost,
  ConnectError,
  ConnectTimeout,
  connect,
  decodeBinary,
  encodeBinary,
  encodeJson,
  message,
  Meta,
  TimeoutError,
} from "../dist/index.js";
import { T, within } from "./support/broker.mjs";

const enc = new TextEncoder();

/** A TCP server on an ephemeral port; `onConn(sock, firstChunk)` is called with each login. */
async function fakeBroker(onConn) {
  const server = net.createServer((sock) => {
    sock.once("data", (chunk) => onConn(sock, chunk));
    sock.on("error", () => {});
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const sockets = new Set();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return {
    address: `tcp:127.0.0.1:${server.address().port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const authOk = (name, data = null) => message(Meta.AUTH_OK, name, "", data === null ? null : enc.encode(data));

test("the Auth a client sends, byte for byte, at level 2 and level 1", async () => {
  const seen = [];
  const fake = await fakeBroker((sock, chunk) => {
    seen.push(Buffer.from(chunk).toString());
    sock.write(encodeJson(authOk("alice")));
  });
  try {
    for (const level of [2, 1]) {
      const c = await connect(fake.address, "alice", "pw", { format: "json", level });
      c.abort();
    }
    assert.deepEqual(seen, [
      '{"Meta":8,"OtherClient":"alice","ConnectionID":"","Data":"cHc=","Level":2}\n',
      '{"Meta":8,"OtherClient":"alice","ConnectionID":"","Data":"cHc="}\n',
    ]);
  } finally {
    await fake.close();
  }
});

test("login answers that are not one: a refusal line, silence, a close, the other format", async () => {
  let mode;
  const fake = await fakeBroker((sock) => {
    if (mode === "refusal") sock.end("mpbroker: unknown wire format; this listener speaks: gob\n");
    else if (mode === "close") sock.destroy();
    else if (mode === "json") sock.write(encodeJson(authOk("x")));
    else if (mode === "binary") sock.write(encodeBinary(authOk("x")));
    // "silent": nothing
  });
  try {
    mode = "refusal";
    await assert.rejects(connect(fake.address, "x", ""), (e) => {
      assert.ok(e instanceof ConnectError && e.permanent, String(e));
      assert.match(e.message, /refused this client's wire format.*speaks: gob/);
      return true;
    });
    mode = "silent";
    await assert.rejects(connect(fake.address, "x", "", { timeoutMs: T(200) }), (e) => {
      assert.ok(e instanceof ConnectTimeout && e instanceof ConnectError && e instanceof TimeoutError, String(e));
      assert.match(e.message, /no login .* within/);
      return true;
    });
    mode = "close";
    await assert.rejects(connect(fake.address, "x", ""), /without answering the login/);
    mode = "json";
    await assert.rejects(connect(fake.address, "x", "", { format: "binary" }), /answered in JSON/);
    mode = "binary";
    await assert.rejects(connect(fake.address, "x", "", { format: "json" }), /answered in the binary format/);
  } finally {
    await fake.close();
  }
});

test("garbage after the login loses the broker; so does silence past idleTimeoutMs", async () => {
  let mode;
  const fake = await fakeBroker((sock) => {
    sock.write(encodeBinary(authOk("x", "level=2 window=1000 watches=1")));
    if (mode === "garbage") sock.write(Uint8Array.from([0, 0, 0, 4, 0, 0xff, 0, 0]));
  });
  try {
    mode = "garbage";
    const c = await connect(fake.address, "x", "", { logger: {} });
    assert.deepEqual(c.settings, { level: 2, window: 1000, watches: 1 });
    await assert.rejects(within(c.closed, 5000, "the loss"), (e) => {
      assert.ok(e instanceof BrokerLost, String(e));
      assert.match(e.message, /undecodable message from the broker: reserved flag bits/);
      return true;
    });
    mode = "silent";
    const d = await connect(fake.address, "x", "", { idleTimeoutMs: T(150) });
    const t0 = Date.now();
    await assert.rejects(within(d.closed, 5000, "the idle timeout"), /idleTimeoutMs/);
    assert.ok(Date.now() - t0 >= T(140));
  } finally {
    await fake.close();
  }
});

test("a Syn for a protocol without a handler is refused with UnknownProto", async () => {
  let answered;
  const answer = new Promise((r) => (answered = r));
  const fake = await fakeBroker((sock) => {
    sock.write(encodeBinary(authOk("x")));
    sock.write(encodeBinary(message(Meta.CONN_SYN, "peer", "peer:0", enc.encode("nope"))));
    sock.on("data", (chunk) => answered(decodeBinary(chunk)));
  });
  try {
    const c = await connect(fake.address, "x", "", { level: 1 });
    assert.deepEqual(await within(answer, 5000, "the refusal"), [message(Meta.UNKNOWN_PROTO, "peer", "peer:0")]);
    c.abort();
  } finally {
    await fake.close();
  }
});

/** A WebSocket server speaking the contract's subprotocols. */
async function fakeWs(onConn) {
  const offered = [];
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    path: "/mp",
    handleProtocols: (protocols) => {
      offered.push([...protocols]);
      return [...protocols][0];
    },
  });
  await new Promise((r) => wss.on("listening", r));
  wss.on("connection", (ws) => ws.once("message", (data, isBinary) => onConn(ws, data, isBinary)));
  return {
    url: `ws://127.0.0.1:${wss.address().port}/mp`,
    offered,
    close: () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(r);
      }),
  };
}

test("WebSocket: subprotocols, text and binary messages, trailing whitespace, close codes", async () => {
  const got = [];
  const ws = await fakeWs((sock, data, isBinary) => {
    got.push([isBinary, isBinary ? Uint8Array.from(data) : data.toString()]);
    if (isBinary) {
      sock.send(encodeBinary(authOk("bin")));
    } else {
      // AuthOk without the "\n", then a Syn and a Data in one message, with spaces.
      sock.send('{"Meta":9,"OtherClient":"txt","ConnectionID":"","Data":null}');
      sock.send(
        ' {"Meta":5,"OtherClient":"peer","ConnectionID":"peer:0","Data":"ZWNobw=="}\n' +
          '{"Meta":0,"OtherClient":"peer","ConnectionID":"peer:0","Data":"aGk="}  \n',
      );
      sock.on("message", (d) => {
        got.push([false, d.toString()]);
        sock.close(1001, "going down");
      });
    }
  });
  try {
    let received;
    const gotData = new Promise((r) => (received = r));
    const t = await connect(ws.url, "txt", "pw", {
      format: "json",
      level: 1,
      logger: {},
      handlers: {
        echo: async (conn) => {
          const m = await conn.recvText();
          received(m);
          await conn.send(m);
          await conn.recv().catch(() => undefined);
        },
      },
    });
    assert.equal(await within(gotData, 5000, "the Data"), "hi");
    await assert.rejects(within(t.closed, 5000, "the close"), (e) => {
      assert.ok(e instanceof BrokerLost, String(e));
      assert.match(e.message, /code 1001: going down/);
      return true;
    });
    const b = await connect(ws.url, "bin", "pw");
    assert.equal(b.name, "bin");
    b.abort();
    assert.deepEqual(ws.offered, [["mpbroker.json"], ["mpbroker.binary"]]);
    assert.equal(got[0][1], '{"Meta":8,"OtherClient":"txt","ConnectionID":"","Data":"cHc="}\n');
    // One message per WebSocket message: the Ack (then the echoed Data).
    assert.equal(got[1][1], '{"Meta":6,"OtherClient":"peer","ConnectionID":"peer:0","Data":null}\n');
    const binary = got.filter(([isBinary]) => isBinary);
    assert.equal(binary.length, 1);
    assert.deepEqual(decodeBinary(binary[0][1]), [message(Meta.AUTH, "bin", "", enc.encode("pw"), 2)]);
  } finally {
    await ws.close();
  }
});
