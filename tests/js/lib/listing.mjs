// listing.mjs - test files declare their tests through these wrappers so
// that run.sh can list every test without running any: with
// MP_JS_LIST=1 each test is registered as skipped ("listing") and the
// file's before/after hooks (brokers, browsers) do not run. The TAP of
// that run names every test; run.sh fails those a real run did not
// report.

import { after, before, describe, test } from "node:test";

export const LISTING = process.env.MP_JS_LIST === "1";

export function setup(fn) {
  if (!LISTING) before(fn);
}

export function teardown(fn) {
  if (!LISTING) after(fn);
}

export function group(name, fn) {
  describe(name, fn);
}

/** A test; options as node:test's (timeout, skip). */
export function check(name, options, fn) {
  if (LISTING) test(name, { skip: "listing" }, () => {});
  else test(name, options, fn);
}
