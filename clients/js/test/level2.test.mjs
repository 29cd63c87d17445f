// Protocol level 2 against a real broker: AuthOk settings, credit and
// backpressure, presence (watch, list, the async iterator), Denied,
// Replaced, GoingAway. After clients/python/tests/test_level2_broker.py.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import {
  BrokerLost,
  connect,
  Denied,
  GoingAway,
  LevelRequired,
  MpError,
  Replaced,
  TimeoutError,
  UnknownProtocol,
  WouldBlock,
} from "../dist/index.js";
import { ALLOW_ALL, Broker, DEFAULT_LISTENERS, T, within } from "./support/broker.mjs";

const WINDOW = 65536;
const LIMITS = `limits = { connection_window = ${WINDOW}; max_watches_per_client = 3; };\n`;
const WS_LISTENER = '  { address = "127.0.0.1"; port = 0; translator = "auto"; websocket = { path = "/mp"; }; },\n';

let broker;
let seq = 0;
const uniq = (base) => `${base}${++seq}`;
const quiet = { logger: {} };

before(async () => {
  broker = await Broker.start(LIMITS + ALLOW_ALL + DEFAULT_LISTENERS.replace("listeners = (\n", "listeners = (\n" + WS_LISTENER));
});
after(async () => {
  await broker?.cleanup();
});

const login = (name, format = "binary", options = {}) =>
  within(connect(broker.address(format), name, "x", { format, ...quiet, ...options }), 5000, `the login of ${name}`);

/** Resolve once `cond()` holds, looking after each turn of the event loop. */
async function until(cond, what) {
  await within(
    (async () => {
      while (!cond()) await new Promise((r) => setTimeout(r, 2));
    })(),
    5000,
    what,
  );
}

function numbered(i, size) {
  const b = new Uint8Array(size).fill(46);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}
const number = (b) => new DataView(b.buffer, b.byteOffset).getUint32(0);

for (const format of ["binary", "json"]) {
  test(`AuthOk settings from the broker (${format})`, async () => {
    const client = await login(uniq("alice"), format);
    assert.equal(client.level, 2);
    assert.deepEqual(client.settings, { level: 2, window: WINDOW, watches: 3 });
    assert.equal(client.window, WINDOW);
    assert.equal(client.maxWatches, 3);
    const old = await login(uniq("bob"), format, { level: 1 });
    assert.equal(old.level, 1);
    assert.equal(old.window, 0);
    await client.close();
    await old.close();
  });

  test(`credit end to end: a receiver that grants nothing holds its sender at one window (${format})`, async () => {
    const rname = uniq("recv");
    let accepted;
    const gotConn = new Promise((r) => (accepted = r));
    const receiver = await login(rname, format, { credit: "manual", handlers: { p: (c) => accepted(c) } });
    const sender = await login(uniq("send"), format);
    const conn = await sender.open(rname, "p");
    assert.equal(conn.credit, WINDOW);
    const size = 1000; // costs 1064
    let sent = 0;
    for (;;) {
      try {
        conn.sendNowait(numbered(sent, size));
      } catch (e) {
        assert.ok(e instanceof WouldBlock && e.credit, String(e));
        break;
      }
      sent++;
    }
    assert.equal(sent, Math.ceil(WINDOW / (size + 64)));
    assert.ok(conn.credit <= 0);
    // send() waits for credit: here it runs out of time, and sends nothing.
    await assert.rejects(conn.send(numbered(999, size), { timeoutMs: T(100) }), TimeoutError);
    const peer = await within(gotConn, 5000, "the accept");
    const numbers = [];
    for (let i = 0; i < sent; i++) numbers.push(number(await within(peer.recv(), 5000, "a message")));
    assert.deepEqual(numbers, [...Array(sent).keys()]);
    assert.equal(peer.consumed, sent * (size + 64));
    peer.grant();
    assert.equal(peer.consumed, 0);
    await within(conn.waitWritable(), 5000, "the grant");
    assert.equal(conn.credit, WINDOW + (conn.credit - WINDOW)); // a number
    assert.ok(conn.credit > 0);
    await conn.send(numbered(sent, size));
    assert.equal(number(await within(peer.recv(), 5000, "the last")), sent);
    assert.throws(() => peer.grant(0), RangeError);
    await sender.close();
    await receiver.close();
  });
}

test("automatic credit: a sender of many windows is never stuck", async () => {
  const rname = uniq("recv");
  const receiver = await login(rname, "binary", {
    handlers: {
      p: async (conn) => {
        let n = 0;
        for await (const m of conn) {
          assert.equal(number(m), n++);
          if (n === 500) await conn.send("done");
        }
      },
    },
  });
  const sender = await login(uniq("send"), "json", { format: "json" });
  const conn = await sender.open(rname, "p");
  for (let i = 0; i < 500; i++) await within(conn.send(numbered(i, 2000)), 5000, `send ${i}`); // ~16 windows
  assert.equal(await within(conn.recvText(), 10000, "done"), "done");
  await sender.close();
  await receiver.close();
});

test("level 2 over WebSocket: credit and presence", async () => {
  const url = broker.wsUrl("auto");
  const rname = uniq("wsrecv");
  let accepted;
  const gotConn = new Promise((r) => (accepted = r));
  const watcher = await within(connect(url, uniq("wswatch"), "x", { format: "json", ...quiet }), 5000, "login");
  await watcher.watch(rname);
  assert.deepEqual(await within(watcher.nextPresence(), 5000, "presence"), { name: rname, online: false });
  const receiver = await within(
    connect(url, rname, "x", { format: "binary", credit: "manual", handlers: { p: (c) => accepted(c) }, ...quiet }),
    5000,
    "login",
  );
  assert.deepEqual(await within(watcher.nextPresence(), 5000, "presence"), { name: rname, online: true });
  const conn = await watcher.open(rname, "p");
  let sent = 0;
  while (conn.credit > 0) {
    conn.sendNowait(numbered(sent++, 4000));
  }
  assert.throws(() => conn.sendNowait("x"), WouldBlock);
  const peer = await gotConn;
  for (let i = 0; i < sent; i++) assert.equal(number(await within(peer.recv(), 5000, "a message")), i);
  peer.grant();
  await within(conn.waitWritable(), 5000, "the grant");
  await receiver.close();
  assert.deepEqual(await within(watcher.nextPresence(), 5000, "presence"), { name: rname, online: false });
  await watcher.close();
});

test("presence: a name, a prefix, list, the async iterator", async () => {
  const p = uniq("pfx");
  const watcher = await login(uniq("watcher"));
  await watcher.watch(`${p}bob`);
  assert.deepEqual(await within(watcher.nextPresence(), 5000, "presence"), { name: `${p}bob`, online: false });
  await watcher.watch(p, { prefix: true });
  assert.deepEqual(watcher.watches, [[p, true], [`${p}bob`, false]].sort());
  const bob = await login(`${p}bob`);
  const bea = await login(`${p}bea`, "json");
  const names = await within(watcher.list(p), 5000, "list");
  assert.deepEqual([...names].sort(), [`${p}bea`, `${p}bob`]);
  assert.equal(names.truncated, false);
  const seen = [];
  for await (const ev of watcher.presence()) {
    seen.push(`${ev.name}:${ev.online}`);
    if (seen.length === 2) break;
  }
  assert.deepEqual(seen.sort(), [`${p}bea:true`, `${p}bob:true`]);
  await bob.close();
  assert.deepEqual(await within(watcher.nextPresence(), 5000, "offline"), { name: `${p}bob`, online: false });
  await watcher.unwatch(`${p}bob`);
  await watcher.unwatch(p, { prefix: true });
  assert.deepEqual(watcher.watches, []);
  // The iterator ends when the client is closed.
  const ended = (async () => {
    for await (const _ of watcher.presence());
    return "ended";
  })();
  await watcher.close();
  assert.equal(await within(ended, 5000, "the end of presence()"), "ended");
  await bea.close();
});

test("the watch cap from the broker; level 1 has no presence", async () => {
  const client = await login(uniq("watcher"));
  for (const n of ["a", "b", "c"]) await client.watch(n);
  await assert.rejects(client.watch("d"), (e) => e instanceof MpError && /too many watches/.test(e.message));
  await client.unwatch("a");
  await client.watch("d");
  await client.close();
  const old = await login(uniq("old"), "binary", { level: 1 });
  await assert.rejects(old.watch("bob"), (e) => e instanceof LevelRequired && /announced level 1/.test(e.message));
  await assert.rejects(old.list(""), LevelRequired);
  await old.close();
});

test("Denied: by the ACL (UnknownProtocol at level 1), by a connection limit", async () => {
  const acl =
    'authenticators = ( { module = "acl.so"; options = { rules = "@DIR@/acl"; }; },\n' +
    '                   { module = "auth_allow_all.so"; } );\n' +
    "limits = { max_connections_per_pair = 1; };\n";
  const b = await Broker.start(acl + DEFAULT_LISTENERS, {
    setup: (x) => x.writeFile("acl", "deny * -> * secret\nallow * -> * *\n"),
  });
  try {
    const server = await connect(b.address("binary"), "srv", "", { handlers: { secret: () => {}, p: () => {} } });
    const fresh = await connect(b.address("binary"), "new", "");
    const old = await connect(b.address("json"), "old", "", { format: "json", level: 1 });
    await assert.rejects(fresh.open("srv", "secret"), (e) => {
      assert.ok(e instanceof Denied, String(e));
      assert.equal(e.reason, "not authorized");
      assert.equal(e.peer, "srv");
      return true;
    });
    await assert.rejects(old.open("srv", "secret"), (e) => e instanceof UnknownProtocol && !(e instanceof Denied));
    await assert.rejects(fresh.open("srv", "other"), (e) => e instanceof UnknownProtocol && !(e instanceof Denied));
    await fresh.open("srv", "p");
    await assert.rejects(fresh.open("srv", "p"), (e) => e instanceof Denied && e.reason === "too many connections");
    for (const c of [server, fresh, old]) await c.close();
  } finally {
    await b.cleanup();
  }
});

test("Denied by the target past its maxConnections", async () => {
  const sname = uniq("srv");
  const server = await login(sname, "binary", { maxConnections: 1, handlers: { p: () => {} } });
  const first = await login(uniq("first"));
  await first.open(sname, "p");
  const fresh = await login(uniq("new"));
  await assert.rejects(fresh.open(sname, "p"), (e) => e instanceof Denied && e.reason === "too many connections");
  for (const c of [server, first, fresh]) await c.close();
});

for (const format of ["binary", "json"]) {
  test(`Replaced (${format})`, async () => {
    const b = await Broker.start('duplicate_names = "replace";\n' + ALLOW_ALL + DEFAULT_LISTENERS);
    try {
      const first = await connect(b.address(format), "alice", "", { format, ...quiet });
      const second = await connect(b.address("binary"), "alice", "", quiet);
      await assert.rejects(within(first.closed, 5000, "the replacement"), (e) => {
        assert.ok(e instanceof Replaced, String(e));
        assert.equal(e.text, "replaced by a newer login");
        return true;
      });
      // A level-1 session replaced just loses the broker.
      const old = await connect(b.address(format), "bob", "", { format, level: 1, ...quiet });
      const bob = await connect(b.address("binary"), "bob", "", quiet);
      await assert.rejects(within(old.closed, 5000, "the loss"), (e) => e instanceof BrokerLost && !(e instanceof Replaced));
      await second.close();
      await bob.close();
    } finally {
      await b.cleanup();
    }
  });
}

test("GoingAway: announced, then the session ends with GoingAway", async () => {
  const b = await Broker.start("shutdown_grace_ms = 300;\n" + ALLOW_ALL + DEFAULT_LISTENERS);
  try {
    const fresh = await connect(b.address("binary"), "new", "", quiet);
    const stopping = b.stop();
    assert.equal(await within(fresh.waitGoingAway(), 5000, "GoingAway"), 300);
    assert.equal(fresh.goingAway, 300);
    await assert.rejects(within(fresh.closed, 5000, "the end"), (e) => {
      assert.ok(e instanceof GoingAway, String(e));
      assert.equal(e.delayMs, 300);
      return true;
    });
    await stopping;
  } finally {
    await b.cleanup();
  }
});

test("receiveWindow: a larger window for the peers", async () => {
  const rname = uniq("recv");
  let accepted;
  const gotConn = new Promise((r) => (accepted = r));
  const receiver = await login(rname, "binary", { receiveWindow: 4 * WINDOW, handlers: { p: (c) => accepted(c) } });
  const sender = await login(uniq("send"));
  const conn = await sender.open(rname, "p");
  const peer = await gotConn;
  assert.equal(peer.receiveWindow, 4 * WINDOW);
  await until(() => conn.credit === 4 * WINDOW, "the extra credit");
  await sender.close();
  await receiver.close();
});
