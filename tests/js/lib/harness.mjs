// harness.mjs - what the browser and interop tests share: the paths of
// the programs under test, a real broker per test file, child processes
// read line by line, a static HTTP server for the repository, and the
// JavaScript client itself.
//
// Environment (each optional; the defaults are an out-of-tree build in
// _build, as `sh tools/quickstart.sh run` makes):
//   MP_BUILD_DIR           the build directory (default: TOP/_build)
//   MPBROKER               the broker (default: BUILD/broker/mpbroker)
//   MP_PLUGIN_BUILD_DIR    its plugins (default: BUILD/plugins/.libs)
//   MPCAT                  mpcat (default: BUILD/tools/mpcat)
//   MP_EXAMPLES_DIR        the C examples (default: BUILD/examples)
//   MP_BROKER_WRAPPER      words to run the broker under (e.g. valgrind)
//   MP_TEST_TIMEOUT_SCALE  multiplies every timeout (default 1)
//   MP_TEST_VERBOSE        print the broker's log lines as they come
//   PYTHON                 the Python for the Python client (default:
//                          /usr/bin/python3 when it exists, else python3)
//
// Every wait is on an event (a log line, an output line, a promise) with
// a timeout; nothing sleeps.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream, existsSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const TOP = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
const BUILD = process.env.MP_BUILD_DIR || join(TOP, "_build");
const env = (name, fallback) => process.env[name] || fallback;

export const MPBROKER = env("MPBROKER", join(BUILD, "broker", "mpbroker"));
export const PLUGIN_DIR = env("MP_PLUGIN_BUILD_DIR", join(BUILD, "plugins", ".libs"));
export const MPCAT = env("MPCAT", join(BUILD, "tools", "mpcat"));
export const EXAMPLES_DIR = env("MP_EXAMPLES_DIR", join(BUILD, "examples"));
// As clients/python/run-tests.sh: Debian's Python when there is one.
export const PYTHON = env("PYTHON", existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
const WRAPPER = (process.env.MP_BROKER_WRAPPER || "").split(/\s+/).filter(Boolean);
const VERBOSE = !["", "0"].includes(process.env.MP_TEST_VERBOSE || "");

/** A timeout in milliseconds, scaled for slow runs (valgrind, sanitizers). */
export function T(ms) {
  const scale = Number(process.env.MP_TEST_TIMEOUT_SCALE) || (WRAPPER.length ? 20 : 1);
  return ms * Math.max(1, scale);
}

/** The bound on one whole test (node:test's timeout option). */
export const TEST_TIMEOUT = T(30000);

/** Settle with p, or reject after ms with an error naming what. */
export function within(p, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The JavaScript client, Node build (clients/js/dist/index.js). */
export async function mpclient() {
  return import(pathToFileURL(join(TOP, "clients", "js", "dist", "index.js")).href);
}

// ---------------------------------------------------------------------------
// Child processes

/**
 * A child process whose stdout and stderr are kept as lines, each of which
 * can be waited for. Killed by stop() or kill(); tests call stop() in a
 * finally block.
 */
export class Child {
  constructor(file, args, options = {}) {
    this.command = [file, ...args].join(" ");
    this.proc = spawn(file, args, {
      stdio: [options.stdin === "pipe" ? "pipe" : "ignore", "pipe", "pipe"],
      env: { ...process.env, ...(options.env || {}) },
      cwd: options.cwd,
    });
    // A child that exits before reading all its input must not crash us
    // with EPIPE.
    this.proc.stdin?.on("error", () => {});
    this.lines = { stdout: [], stderr: [] };
    this.waiters = new Set();
    this.exit = new Promise((done) => {
      this.proc.on("error", (error) => {
        this.lines.stderr.push(`spawn failed: ${error.message}`);
        done({ code: 127, signal: null });
      });
      this.proc.on("close", (code, signal) => done({ code, signal }));
    });
    this.exited = null;
    this.exit.then((status) => {
      this.exited = status;
      this.notify();
    });
    for (const stream of ["stdout", "stderr"]) this.collect(stream, options.onLine);
  }

  collect(stream, onLine) {
    let partial = "";
    this.proc[stream].setEncoding("utf8");
    this.proc[stream].on("data", (chunk) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop();
      for (const line of parts) {
        this.lines[stream].push(line);
        if (onLine) onLine(line, stream);
      }
      this.notify();
    });
    this.proc[stream].on("end", () => {
      if (partial) this.lines[stream].push(partial);
      partial = "";
      this.notify();
    });
  }

  notify() {
    for (const check of this.waiters) check();
  }

  /** Resolve with the first line of stream (from index from) containing
   * text (a string or a RegExp); reject after ms or when the child ended
   * without one. */
  waitLine(text, { stream = "stdout", ms = T(10000), from = 0 } = {}) {
    const matches = (line) => (text instanceof RegExp ? text.test(line) : line.includes(text));
    return new Promise((resolvePromise, reject) => {
      const finish = (fn, value) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn(value);
      };
      const check = () => {
        const line = this.lines[stream].slice(from).find(matches);
        if (line !== undefined) return finish(resolvePromise, line);
        if (this.exited !== null && this.proc[stream].readableEnded)
          finish(reject, new Error(`${this.describe()} ended without a line with ${text} on ${stream}`));
      };
      const timer = setTimeout(
        () => finish(reject, new Error(`no line with ${text} on ${stream} within ${ms} ms from ${this.describe()}`)),
        ms,
      );
      this.waiters.add(check);
      check();
    });
  }

  /** Write to stdin (spawned with { stdin: "pipe" }). */
  write(text) {
    this.proc.stdin.write(text);
  }

  endInput() {
    this.proc.stdin.end();
  }

  /** Wait for the child to exit by itself (within ms); its status. */
  async wait(ms = T(10000)) {
    return within(this.exit, ms, `${this.describe()} to exit`);
  }

  /** Signal the child (SIGTERM) unless it exited, and wait for it. */
  async stop(signal = "SIGTERM", ms = T(10000)) {
    if (this.exited === null) this.proc.kill(signal);
    try {
      return await this.wait(ms);
    } catch (error) {
      this.kill();
      throw error;
    }
  }

  kill() {
    if (this.exited === null) this.proc.kill("SIGKILL");
  }

  describe() {
    const output = [...this.lines.stdout.map((l) => `  out: ${l}`), ...this.lines.stderr.map((l) => `  err: ${l}`)];
    return `"${this.command}"${output.length ? `\n${output.join("\n")}\n` : " (no output)"}`;
  }
}

// ---------------------------------------------------------------------------
// The broker

/**
 * A real mpbroker with allow_all (any name, any secret), a TCP listener and
 * a WebSocket listener (path /mp), both on ephemeral loopback ports and
 * translator "auto". origins: the WebSocket listener's Origin allow-list
 * (default: absent, any).
 */
export async function startBroker({ origins } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "mpbjs."));
  const originList = origins ? ` origins = [ ${origins.map((o) => JSON.stringify(o)).join(", ")} ];` : "";
  const config = [
    "# written by tests/js/lib/harness.mjs",
    `plugin_dir = ${JSON.stringify(PLUGIN_DIR)}; allow_root = true;`,
    'translators = ( { name = "json"; module = "translator_json.so"; },',
    '                { name = "binary"; module = "translator_binary.so"; } );',
    'authenticators = ( { module = "auth_allow_all.so"; } );',
    "# The tests wait for log lines: none may be held back by the rate limits.",
    "log = { client_lines_per_s = 0; lines_per_s = 0; };",
    "listeners = (",
    '  { address = "127.0.0.1"; port = 0; translator = "auto"; },',
    `  { address = "127.0.0.1"; port = 0; translator = "auto"; websocket = { path = "/mp";${originList} }; } );`,
    "",
  ].join("\n");
  const file = join(dir, "mpbroker.conf");
  await writeFile(file, config);
  const [cmd, ...args] = [...WRAPPER, MPBROKER, "-c", file];
  const child = new Child(cmd, args, {
    onLine: VERBOSE ? (line) => process.stderr.write(`[mpbroker] ${line}\n`) : undefined,
  });
  const broker = {
    dir,
    child,
    tcp: null, // "tcp:127.0.0.1:PORT"
    ws: null, // "ws://127.0.0.1:PORT/mp"
    /** The address of the listener for transport "tcp" or "ws". */
    address(transport) {
      return transport === "ws" ? this.ws : this.tcp;
    },
    /** Wait for a log line containing text (from line index from). */
    waitLog(text, ms = T(10000), from = 0) {
      return child.waitLine(text, { stream: "stderr", ms, from });
    },
    mark() {
      return child.lines.stderr.length;
    },
    log() {
      return child.lines.stderr.join("\n");
    },
    /** SIGTERM; it must exit 0. Then its directory goes. */
    async stop() {
      try {
        const status = await child.stop("SIGTERM", T(10000));
        if (status.code !== 0) throw new Error(`the broker exited with ${JSON.stringify(status)}; its log:\n${this.log()}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    await broker.waitLog("notice: ready");
  } catch (error) {
    child.kill();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`the broker did not become ready: ${error.message}`);
  }
  // "info: listening on tcp:127.0.0.1:PORT translator=auto", "... ws:..."
  for (const line of child.lines.stderr) {
    const m = /listening on (tcp|ws):(127\.0\.0\.1:\d+) translator=/.exec(line);
    if (m && m[1] === "tcp") broker.tcp = `tcp:${m[2]}`;
    if (m && m[1] === "ws") broker.ws = `ws://${m[2]}/mp`;
  }
  if (!broker.tcp || !broker.ws) {
    await broker.stop().catch(() => {});
    throw new Error(`the broker did not log a tcp and a ws listener; its log:\n${broker.log()}`);
  }
  return broker;
}

// ---------------------------------------------------------------------------
// A static HTTP server for the repository (the web demo and the client's
// browser build), on an ephemeral loopback port

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export async function serveDirectory(root) {
  const top = resolve(root);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    let file = resolve(top, `.${path}`);
    if (req.method !== "GET" || (file !== top && !file.startsWith(top + sep))) {
      res.writeHead(req.method !== "GET" ? 405 : 403).end();
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      await stat(file);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] || "application/octet-stream",
      "cache-control": "no-store",
    });
    createReadStream(file).pipe(res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((done) => server.close(done)),
  };
}
