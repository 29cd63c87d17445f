// TLS: tls: addresses and wss://, with the test certificates of
// tests/support/make-certs.sh (a CA, a server certificate for localhost
// and 127.0.0.1, a client certificate for alice, a rogue CA).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { ConnectError, connect, TlsError } from "../dist/index.js";
import { Broker, within } from "./support/broker.mjs";

let broker;
const pem = (name) => readFileSync(broker.path(name), "utf8");

function tlsGroup(verify) {
  return (
    'tls = { cert = "@DIR@/server.pem"; key = "@DIR@/server.key"; ' +
    `ca = "@DIR@/ca.pem"; verify_client = "${verify}"; };`
  );
}

before(async () => {
  broker = await Broker.start(
    'authenticators = ( { module = "auth_allow_all.so"; } );\n' +
      "listeners = (\n" +
      `  { address = "127.0.0.1"; port = 0; translator = "auto"; ${tlsGroup("optional")} },\n` +
      `  { address = "127.0.0.1"; port = 0; translator = "auto"; ${tlsGroup("required")} },\n` +
      `  { address = "127.0.0.1"; port = 0; translator = "auto"; websocket = { path = "/mp"; }; ${tlsGroup("optional")} },\n` +
      '  { address = "127.0.0.1"; port = 0; translator = "binary"; } );\n',
    { setup: (b) => b.makeCerts() },
  );
});

after(async () => {
  await broker?.cleanup();
});

const tlsPorts = () => broker.listeners.filter((l) => l.scheme === "tls").map((l) => l.port);

async function echo(conn) {
  for await (const m of conn) await conn.send(m);
}

for (const format of ["json", "binary"]) {
  for (const host of ["127.0.0.1", "localhost"]) {
    test(`tls: login with CA verification (${format}, ${host})`, async () => {
      const [port] = tlsPorts();
      const server = await within(
        connect(`tls:${host}:${port}`, `srv-${format}-${host}`, "x", { format, ca: pem("ca.pem"), handlers: { echo } }),
        5000,
        "the TLS login",
      );
      // A plain TCP client talks to the TLS one.
      const client = await connect(broker.address("binary"), `cli-${format}-${host}`, "x");
      const conn = await client.open(server.name, "echo");
      await conn.send("through TLS");
      assert.equal(await within(conn.recvText(), 5000, "the echo"), "through TLS");
      await client.close();
      await server.close();
    });
  }
}

test("tls: an unknown CA is refused with TlsError", async () => {
  const [port] = tlsPorts();
  await assert.rejects(connect(`tls:127.0.0.1:${port}`, "cli", "", { ca: pem("rogue-ca.pem") }), TlsError);
  // Without a CA: the system's, which do not know the test CA.
  await assert.rejects(connect(`tls:127.0.0.1:${port}`, "cli", ""), TlsError);
});

test("tls: the host name is verified", async () => {
  const [port] = tlsPorts();
  await assert.rejects(
    connect(`tls:127.0.0.1:${port}`, "cli", "", { ca: pem("ca.pem"), servername: "wrong.example" }),
    TlsError,
  );
  const c = await connect(`tls:127.0.0.1:${port}`, "cli", "", { ca: pem("ca.pem"), servername: "localhost" });
  await c.close();
});

test("tls: a client certificate", async () => {
  const [, required] = tlsPorts();
  const addr = `tls:127.0.0.1:${required}`;
  const c = await connect(addr, "alice", "x", { ca: pem("ca.pem"), cert: pem("alice.pem"), key: pem("alice.key") });
  assert.ok(c.loggedIn);
  await c.close();
  // Without one the broker ends the handshake.
  await assert.rejects(within(connect(addr, "bob", "x", { ca: pem("ca.pem") }), 5000, "the refusal"), ConnectError);
});

for (const format of ["json", "binary"]) {
  test(`wss: login and echo (${format})`, async () => {
    const url = broker.wsUrl("auto", "wss");
    const server = await connect(url, `wss-srv-${format}`, "x", { format, ca: pem("ca.pem"), handlers: { echo } });
    const client = await connect(broker.address("binary"), `wss-cli-${format}`, "x");
    const conn = await client.open(server.name, "echo");
    await conn.send("through wss");
    assert.equal(await within(conn.recvText(), 5000, "the echo"), "through wss");
    await client.close();
    await server.close();
    await assert.rejects(connect(url, "rogue", "", { format, ca: pem("rogue-ca.pem") }), ConnectError);
  });
}
