// The fixed API type-checks against the built declarations, imported by
// the package's own name (as an application would).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "..");

test("test/types/api.ts type-checks against dist/*.d.ts", { timeout: 120000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "mpjs-types."));
  try {
    const config = join(dir, "tsconfig.json");
    writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022", "DOM"],
          types: [],
          strict: true,
          noEmit: true,
          // "mpclient" is this package: resolved through its exports.
          baseUrl: PACKAGE,
          paths: { mpclient: [join(PACKAGE, "dist/index.d.ts")], "mpclient/browser": [join(PACKAGE, "dist/browser.d.ts")] },
        },
        files: [join(PACKAGE, "test/types/api.ts")],
      }),
    );
    let out = "";
    try {
      execFileSync(join(PACKAGE, "node_modules/.bin/tsc"), ["-p", config], { encoding: "utf8" });
    } catch (e) {
      out = `${e.stdout}${e.stderr}`;
    }
    assert.equal(out, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
