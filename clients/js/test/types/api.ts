// The API the issue fixes, as a TypeScript program: it must type-check
// against dist/*.d.ts (test/types.test.mjs runs tsc on it; it never runs).
import {
  AuthError,
  BrokerLost,
  Client,
  ConnectError,
  Connection,
  connect,
  Denied,
  Disconnected,
  MpError,
  NameTaken,
  TimeoutError,
  UnknownProtocol,
} from "mpclient";
import * as browser from "mpclient/browser";

export async function api(): Promise<void> {
  const server: Client = await connect("tcp:127.0.0.1:7330", "echo", "demo", {
    handlers: {
      echo: async (conn: Connection) => {
        for await (const msg of conn) await conn.send(msg);
      },
    },
  });
  const client = await connect("ws://127.0.0.1:7380/mp", "alice", "demo", {
    format: "json",
    reconnect: true,
    reconnectInitialMs: 100,
    reconnectMaxMs: 10000,
    reconnectMaxAttempts: 0,
    onDisconnected: (e: BrokerLost) => void e.detail,
    onReconnecting: (attempt: number, delayMs: number) => void (attempt + delayMs),
    onReconnected: () => undefined,
    timeoutMs: 5000,
  });
  const conn = await client.open("echo", "echo", { timeoutMs: 1000 });
  await conn.send("hello");
  await conn.send(new Uint8Array([1, 2]));
  const msg: Uint8Array = await conn.recv();
  const credit: number | null = conn.credit;
  conn.grant();
  await conn.close();
  client.handle("proto", (c: Connection) => void c);
  client.handleRequests("upper", (data: Uint8Array) => data);
  client.handleRequests("text", () => "reply");
  client.handleRequests("none", () => null);
  client.handleRequests("later", async (data) => new TextDecoder().decode(data).toUpperCase());
  const reply: Uint8Array = await client.request("echo", "upper", "hi", { timeoutMs: 5000 });
  await client.watch("bob");
  await client.watch("team-", { prefix: true });
  await client.unwatch("bob");
  const names: string[] & { truncated: boolean } = await client.list("");
  for await (const ev of client.presence()) {
    const online: boolean = ev.online;
    void [ev.name, online];
    break;
  }
  const level: number = client.level;
  const goingAway: number | null = client.goingAway;
  const delay: number = await client.waitGoingAway();
  await client.close();
  await client.closed;
  await server.close();
  const tls = await connect("tls:localhost:7331", "alice", "x", { ca: "PEM", cert: "PEM", key: "PEM", servername: "localhost" });
  await tls.close();
  const page = await browser.connect("ws://127.0.0.1:7380/mp", "page", "demo", { format: "binary" });
  await page.close();
  try {
    await client.open("x", "y");
  } catch (e) {
    if (e instanceof UnknownProtocol || e instanceof Denied) void [e.peer, e.protocol];
    if (e instanceof Denied) void e.reason;
    if (e instanceof AuthError || e instanceof NameTaken) void e.reason;
    if (e instanceof ConnectError) void e.permanent;
    void [e instanceof MpError, e instanceof Disconnected, e instanceof TimeoutError];
  }
  void [msg, credit, reply, names, level, goingAway, delay];
}
