// interop.test.mjs - the JavaScript client (Node build) with the C
// programs (mpcat, examples/echo_server, examples/rr_server) and the
// Python client, through one real broker: over TCP and over WebSocket,
// in JSON and in binary. The C and Python peers always log in over TCP
// in the other format, so that every case also goes through the broker's
// translation between the two.
//
// Each case sends one message each way (or one request and its reply).
// Run: node --test interop.test.mjs (see run.sh for the environment).

import assert from "node:assert/strict";
import { join } from "node:path";

import {
  Child, EXAMPLES_DIR, MPCAT, PYTHON, T, TEST_TIMEOUT, TOP, mpclient, startBroker, within,
} from "./lib/harness.mjs";
import { check, group, setup, teardown } from "./lib/listing.mjs";

const TRANSPORTS = ["tcp", "ws"];
const FORMATS = ["json", "binary"];
const OTHER = { json: "binary", binary: "json" };
const OPTIONS = { timeout: TEST_TIMEOUT };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const upper = (data) => encoder.encode(decoder.decode(data).toUpperCase());

let broker;
let mp;

setup(async () => {
  mp = await mpclient();
  broker = await startBroker();
});

teardown(async () => {
  if (broker) await broker.stop();
});

// A small Python program on the Python client (clients/python/src):
//   serve ADDRESS FORMAT NAME   answer "echo" (each message sent back) and
//                               "upper" requests; "ready" once logged in;
//                               leaves when stdin ends
//   ask ADDRESS FORMAT NAME PEER  one echo round trip with PEER, then one
//                               "upper" request; prints "echo: ..." and
//                               "reply: ..."
const PYTHON_PEER = `
import asyncio, sys
import mpclient

async def echo(conn):
    async for msg in conn:
        await conn.send(msg)

async def main(mode, address, fmt, name, peer=None):
    if mode == "serve":
        client = await mpclient.connect(address, name, b"x", format=fmt, handlers={"echo": echo})
        client.handle_requests("upper", lambda data: data.upper())
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await client.close()
        return
    async with mpclient.Client(address, name, b"x", format=fmt) as client:
        conn = await client.open(peer, "echo")
        await conn.send(b"from python")
        print("echo:", (await asyncio.wait_for(conn.recv(), 10)).decode(), flush=True)
        await conn.close()
        reply = await client.request(peer, "upper", b"python asks", timeout=10)
        print("reply:", reply.decode(), flush=True)

asyncio.run(main(*sys.argv[1:]))
`;

function python(...args) {
  return new Child(PYTHON, ["-c", PYTHON_PEER, ...args], {
    stdin: "pipe",
    env: { PYTHONPATH: join(TOP, "clients", "python", "src"), PYTHONDONTWRITEBYTECODE: "1" },
  });
}

// Stop every child and close every client, whatever happened.
async function cleanUp(children, clients) {
  for (const client of clients) await client?.close().catch(() => {});
  for (const child of children) child?.kill();
}

for (const transport of TRANSPORTS) {
  for (const format of FORMATS) {
    const tag = `${transport}_${format}`;
    const peerFormat = OTHER[format];

    // The JS client of a case: over transport, in format, as the
    // broker's log line of its login confirms.
    const js = async (name, options = {}) => {
      const full = `js_${tag}_${name}`;
      const mark = broker.mark();
      const client = await within(mp.connect(broker.address(transport), full, "x", { format, ...options }),
        T(10000), `${full} logs in`);
      const login = await broker.waitLog(`client ${full} logged in:`, T(5000), mark);
      assert.match(login, new RegExp(` listener=${transport}:127\\.0\\.0\\.1:\\d+ format=${format}\\b`), login);
      return client;
    };

    // A C program logged in over TCP in the other format as NAME; resolves
    // once the broker says it is in.
    const cProgram = async (program, name, extra = []) => {
      const mark = broker.mark();
      const child = new Child(join(EXAMPLES_DIR, program), ["-a", broker.tcp, "-f", peerFormat, "-n", name, "-s", "x", ...extra]);
      await broker.waitLog(`client ${name} logged in:`, T(10000), mark);
      return child;
    };

    const mpcat = (name, args, options) =>
      new Child(MPCAT, ["-a", broker.tcp, "-f", peerFormat, "-n", name, "-s", "x", ...args], options);

    group(tag, () => {
      check("js_opens_to_c_echo_server", OPTIONS, async () => {
        const name = `c_echo_${tag}`;
        let server, client;
        try {
          server = await cProgram("echo_server", name);
          client = await js("echo_client");
          const conn = await within(client.open(name, "echo"), T(5000), "open");
          for (const message of ["hello from js", new Uint8Array([0, 1, 0xff, 0x0a, 0x80, 0x7f])]) {
            await conn.send(message);
            const back = await within(conn.recv(), T(5000), "the echo");
            const sent = typeof message === "string" ? encoder.encode(message) : message;
            assert.deepEqual(Array.from(back), Array.from(sent));
          }
          await server.waitLine("echo 'hello from js' back to js_");
          await conn.close();
          await client.close();
          const status = await server.stop();
          assert.equal(status.code, 0, server.describe());
        } finally {
          await cleanUp([server], [client]);
        }
      });

      check("c_mpcat_connects_to_js_handler", OPTIONS, async () => {
        let cat, client;
        try {
          const received = [];
          client = await js("shouter", {
            handlers: {
              shout: async (conn) => {
                for await (const msg of conn) {
                  received.push(decoder.decode(msg));
                  await conn.send(upper(msg));
                }
              },
            },
          });
          cat = mpcat(`c_cat_${tag}`, ["-c", "1", "-w", "10", "connect", `js_${tag}_shouter`, "shout"], { stdin: "pipe" });
          cat.write("hi from c\n");
          await cat.waitLine("HI FROM C");
          cat.endInput();
          const status = await cat.wait();
          assert.equal(status.code, 0, cat.describe());
          assert.deepEqual(received, ["hi from c"]);
        } finally {
          await cleanUp([cat], [client]);
        }
      });

      check("js_requests_c_rr_server", OPTIONS, async () => {
        const name = `c_rr_${tag}`;
        let server, client;
        try {
          server = await cProgram("rr_server", name);
          client = await js("asker");
          const reply = await client.request(name, "upper", "js asks c", { timeoutMs: T(5000) });
          assert.equal(decoder.decode(reply), "JS ASKS C");
          await server.waitLine("asked 'js asks c'");
          const status = await server.stop();
          assert.equal(status.code, 0, server.describe());
        } finally {
          await cleanUp([server], [client]);
        }
      });

      check("c_mpcat_requests_js", OPTIONS, async () => {
        let cat, client;
        try {
          client = await js("answerer");
          client.handleRequests("upper", upper);
          cat = mpcat(`c_req_${tag}`, ["-w", "10", "request", `js_${tag}_answerer`, "upper", "c asks js"]);
          await cat.waitLine("C ASKS JS");
          const status = await cat.wait();
          assert.equal(status.code, 0, cat.describe());
        } finally {
          await cleanUp([cat], [client]);
        }
      });

      check("js_talks_to_python", OPTIONS, async () => {
        const name = `py_srv_${tag}`;
        let py, client;
        try {
          py = python("serve", broker.tcp, peerFormat, name);
          await py.waitLine("ready", { ms: T(15000) });
          client = await js("to_python");
          const conn = await within(client.open(name, "echo"), T(5000), "open");
          await conn.send("from js to python");
          assert.equal(decoder.decode(await within(conn.recv(), T(5000), "the echo")), "from js to python");
          await conn.close();
          const reply = await client.request(name, "upper", "js asks python", { timeoutMs: T(5000) });
          assert.equal(decoder.decode(reply), "JS ASKS PYTHON");
          py.endInput();
          const status = await py.wait();
          assert.equal(status.code, 0, py.describe());
        } finally {
          await cleanUp([py], [client]);
        }
      });

      check("python_talks_to_js", OPTIONS, async () => {
        let py, client;
        try {
          client = await js("for_python", {
            handlers: { echo: async (conn) => { for await (const msg of conn) await conn.send(msg); } },
          });
          client.handleRequests("upper", upper);
          py = python("ask", broker.tcp, peerFormat, `py_cli_${tag}`, `js_${tag}_for_python`);
          await py.waitLine("echo: from python", { ms: T(15000) });
          await py.waitLine("reply: PYTHON ASKS");
          const status = await py.wait();
          assert.equal(status.code, 0, py.describe());
        } finally {
          await cleanUp([py], [client]);
        }
      });
    });
  }
}
