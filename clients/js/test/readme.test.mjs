// The README's ten-line example runs as written (against a test broker).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Broker, T } from "./support/broker.mjs";

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let broker;
before(async () => {
  broker = await Broker.start(
    'authenticators = ( { module = "auth_allow_all.so"; } );\n' +
      'listeners = ( { address = "127.0.0.1"; port = 0; translator = "auto"; } );\n',
  );
});
after(async () => {
  await broker?.cleanup();
});

test("the README's ten-line example", async () => {
  const readme = readFileSync(join(PACKAGE, "README.md"), "utf8");
  const code = /## Ten lines[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)[1];
  assert.ok(code.split("\n").filter((l) => l.trim()).length <= 12);
  // Inside the package, so that "mpclient" resolves to this package itself.
  const file = join(PACKAGE, `.readme-example-${process.pid}.mjs`);
  writeFileSync(file, code);
  try {
    const out = await new Promise((res, rej) =>
      execFile(
        process.execPath,
        [file],
        { env: { ...process.env, MP_ADDRESS: broker.listeners[0].label, MP_SECRET: "x" }, timeout: T(20000) },
        (err, stdout, stderr) => (err ? rej(new Error(`${err.message}\n${stderr}`)) : res(stdout)),
      ),
    );
    assert.equal(out, "hello\n");
  } finally {
    rmSync(file, { force: true });
  }
});
