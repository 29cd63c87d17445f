// Test support: start and stop a real mpbroker per test (or per file), on
// ephemeral loopback ports, and wait on its log lines (never on sleeps).
//
// Environment (each optional), as clients/python/tests/conftest.py:
//   MPBROKER              the broker binary (default: broker/mpbroker of
//                         this source tree, or _build/broker/mpbroker)
//   MP_PLUGIN_BUILD_DIR   its plugin directory (default: plugins/.libs)
//   MPBROKER_PASSWD       mpbroker-passwd, for password files
//                         (default: tools/mpbroker-passwd)
//   MPCAT, MP_EXAMPLES_DIR  not used by these tests (the interop tests
//                         in tests/js use them)
//   MP_TEST_TIMEOUT_SCALE multiplies every timeout (default 1)
//   MP_TEST_VERBOSE       print the broker's log lines as they come

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const SOURCE_TREE = resolve(HERE, "../../../..");

function treePath(envName, ...candidates) {
  const v = process.env[envName];
  if (v) return v;
  for (const c of candidates) {
    const p = join(SOURCE_TREE, c);
    if (existsSync(p)) return p;
  }
  return join(SOURCE_TREE, candidates[0]);
}

export const MPBROKER = treePath("MPBROKER", "broker/mpbroker", "_build/broker/mpbroker");
export const PLUGIN_DIR = treePath("MP_PLUGIN_BUILD_DIR", "plugins/.libs", "_build/plugins/.libs");
export const MPBROKER_PASSWD = treePath("MPBROKER_PASSWD", "tools/mpbroker-passwd", "_build/tools/mpbroker-passwd");
export const MAKE_CERTS = join(SOURCE_TREE, "tests/support/make-certs.sh");

const SCALE = Math.max(1, Number(process.env.MP_TEST_TIMEOUT_SCALE) || 1);

/** A timeout in milliseconds, scaled for slow runs. */
export const T = (ms) => ms * SCALE;

export const ALLOW_ALL = 'authenticators = ( { module = "auth_allow_all.so"; } );\n';
export const DEFAULT_LISTENERS = `listeners = (
  { address = "127.0.0.1"; port = 0; translator = "json"; },
  { address = "127.0.0.1"; port = 0; translator = "binary"; },
  { unix = "@DIR@/mp.sock"; translator = "auto"; } );
`;

/** A short temporary directory (Unix socket paths must stay short). */
export function shortTmpdir() {
  let root = process.env.TMPDIR || tmpdir();
  if (!root.startsWith("/") || root.length >= 48) root = "/tmp";
  return mkdtempSync(join(root, "mpbjs."));
}

/** Reject after `ms` with a message naming `what`. */
export function within(promise, ms, what = "an event") {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), T(ms));
    }),
  ]).finally(() => clearTimeout(timer));
}

export class Broker {
  constructor(dir) {
    this.dir = dir;
    this.proc = null;
    this.lines = [];
    this.listeners = []; // { label, translator, scheme, port }
    this.waiters = new Set();
    this.exited = null; // a Promise of the exit status
    this.ownsDir = true;
  }

  /** A broker with `body` after the standard prologue (default: allow_all and the default listeners). */
  static async start(body = ALLOW_ALL + DEFAULT_LISTENERS, { setup, dir } = {}) {
    const b = new Broker(dir ?? shortTmpdir());
    if (dir) b.ownsDir = false;
    if (setup) await setup(b);
    await b.run(body.replaceAll("@DIR@", b.dir));
    return b;
  }

  path(name) {
    return join(this.dir, name);
  }

  writeFile(name, text) {
    writeFileSync(this.path(name), text);
    return this.path(name);
  }

  /** Write an auth_passwd file with these users (name -> secret). */
  writePasswd(users, name = "passwd") {
    const file = this.path(name);
    for (const [user, secret] of Object.entries(users)) {
      const r = spawnSync(MPBROKER_PASSWD, ["-b", file, user, secret], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`mpbroker-passwd failed: ${r.stderr || r.error}`);
    }
    return file;
  }

  /** The test certificates (tests/support/make-certs.sh) in this broker's directory. */
  makeCerts() {
    const r = spawnSync("sh", [MAKE_CERTS, this.dir], { stdio: "ignore" });
    if (r.status !== 0) throw new Error("make-certs.sh failed");
  }

  async run(body) {
    const prologue =
      "# written by clients/js/test/support/broker.mjs\n" +
      `plugin_dir = "${PLUGIN_DIR}"; allow_root = true;\n` +
      'translators = ( { name = "json"; module = "translator_json.so"; },\n' +
      '                { name = "binary"; module = "translator_binary.so"; } );\n';
    const config = this.writeFile("mpbroker.conf", prologue + body);
    this.proc = spawn(MPBROKER, ["-c", config], { stdio: ["ignore", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) => resolve(code ?? signal)));
    const verbose = !["", "0", undefined].includes(process.env.MP_TEST_VERBOSE);
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        if (verbose) process.stderr.write(`[mpbroker ${this.proc.pid}] ${line}\n`);
        this.lines.push(line);
        const m = /listening on (.*) translator=(\S+)/.exec(line);
        if (m) {
          const label = m[1].trim();
          const scheme = /^(wss?):\/\//.exec(label)?.[1] ?? label.split(":", 1)[0];
          const port = Number(/:(\d+)(?:\/|$)/.exec(label)?.[1] ?? 0);
          this.listeners.push({ label, translator: m[2], scheme, port });
        }
        for (const w of [...this.waiters]) w();
      });
    }
    this.proc.on("exit", () => {
      for (const w of [...this.waiters]) w();
    });
    if (!(await this.waitLog("notice: ready", 10000))) {
      this.kill();
      throw new Error(`the broker did not become ready; its log:\n${this.lines.join("\n")}`);
    }
  }

  /** Resolve true once a log line (from index `start`) contains `substring`; false after `ms`. */
  waitLog(substring, ms, start = 0) {
    return new Promise((resolve) => {
      const look = () => {
        if (this.lines.slice(start).some((l) => l.includes(substring))) finish(true);
        else if (this.proc.exitCode !== null || this.proc.signalCode !== null) finish(false);
      };
      const timer = setTimeout(() => finish(false), T(ms));
      const finish = (v) => {
        clearTimeout(timer);
        this.waiters.delete(look);
        resolve(v);
      };
      this.waiters.add(look);
      look();
    });
  }

  logMark() {
    return this.lines.length;
  }

  logText() {
    return this.lines.join("\n");
  }

  /** The address of the first listener with that translator and scheme. */
  address(translator = "binary", scheme = "tcp") {
    const l = this.listeners.find((x) => x.translator === translator && x.scheme === scheme);
    if (!l) throw new Error(`no ${scheme} listener with translator ${translator}; log:\n${this.logText()}`);
    return l.label;
  }

  /** The ws:// (or wss://) URL of the first WebSocket listener with that translator. */
  wsUrl(translator = "auto", scheme = "ws", path = "/mp") {
    const l = this.listeners.find((x) => x.translator === translator && x.scheme === scheme);
    if (!l) throw new Error(`no ${scheme} listener with translator ${translator}; log:\n${this.logText()}`);
    return `${scheme}://127.0.0.1:${l.port}${path}`;
  }

  /** SIGTERM, and wait for the exit (status 0 expected). */
  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill("SIGTERM");
    const status = await within(this.exited, 10000, "the broker to exit").catch(() => {
      this.kill();
      return "timeout";
    });
    if (status !== 0) throw new Error(`the broker exited with ${status} after SIGTERM; log:\n${this.logText()}`);
  }

  /** SIGKILL, as a crash. */
  async kill() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGKILL");
      await this.exited;
    }
  }

  /** Stop it and remove its directory. */
  async cleanup() {
    try {
      await this.stop();
    } finally {
      await this.kill();
      if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
