// `npm pack` makes a tarball that installs and imports: both entry points,
// and the type declarations are in it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "..");

test("npm pack: an installable tarball with both entry points and the types", { timeout: 120000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "mpjs-pack."));
  try {
    const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    // dist/ is built already (npm run build): no prepack rebuild here.
    const out = npm(["pack", "--ignore-scripts", "--json", "--pack-destination", dir], PACKAGE);
    const [info] = JSON.parse(out);
    const files = info.files.map((f) => f.path);
    for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/browser.js", "dist/browser.d.ts"]) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("node_modules/")));
    const app = join(dir, "app");
    execFileSync("mkdir", [app]);
    writeFileSync(join(app, "package.json"), '{ "name": "app", "version": "1.0.0", "private": true, "type": "module" }\n');
    // The dependency (ws) comes from npm's cache after `npm ci`.
    npm(["install", "--prefer-offline", "--no-audit", "--no-fund", join(dir, info.filename)], app);
    assert.ok(existsSync(join(app, "node_modules/mpclient/dist/index.d.ts")));
    const probe = (conditions) =>
      execFileSync(
        "node",
        [...conditions, "--input-type=module", "-e",
          'const m = await import("mpclient"); console.log([typeof m.connect, typeof m.Client, typeof m.nodeTransport, typeof m.browserTransport, typeof m.BrokerLost].join(" "))'],
        { cwd: app, encoding: "utf8" },
      ).trim();
    assert.equal(probe([]), "function function function undefined function");
    assert.equal(probe(["--conditions=browser"]), "function function undefined function function");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
