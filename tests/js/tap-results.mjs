// tap-results.mjs - turn node:test's TAP into one result line per test:
//
//   node tap-results.mjs PREFIX < run.tap
//   PASS js PREFIX/group/test_name
//   FAIL js PREFIX/other_test
//   SKIP js PREFIX/third (with --names: every test, passed or not, as NAME only)
//
// A test's name is the names of its enclosing suites and its own, joined
// by "/", spaces made "_". Only tests are listed, not the suites around
// them, except a suite that failed with no failing test inside (a hook
// failed): it is one FAIL of its own. A failure of a whole file (node
// names it by its path) is FAIL PREFIX/FILE.
//
// With --names, print each test's name alone (a listing run, where every
// test is skipped).

import { readFileSync } from "node:fs";
import { basename } from "node:path";

const args = process.argv.slice(2);
const namesOnly = args[0] === "--names";
const prefix = namesOnly ? args[1] : args[0];
if (!prefix) {
  console.error("usage: node tap-results.mjs [--names] PREFIX < TAP");
  process.exit(2);
}

const clean = (name) => {
  const unescaped = name.replace(/\\#/g, "#").replace(/\\\\/g, "\\").trim();
  const short = unescaped.startsWith("/") ? basename(unescaped) : unescaped;
  return short.replace(/\s+/g, "_");
};

const stack = []; // the announced name at each depth
const hadChildren = []; // the node at that depth has subtests
const childFailed = []; // one of them failed
const results = [];

for (const line of readFileSync(0, "utf8").split("\n")) {
  const subtest = /^( *)# Subtest: (.*)$/.exec(line);
  if (subtest) {
    const depth = subtest[1].length / 4;
    stack[depth] = clean(subtest[2]);
    stack.length = depth + 1;
    hadChildren[depth] = false;
    childFailed[depth] = false;
    if (depth > 0) hadChildren[depth - 1] = true;
    continue;
  }
  const result = /^( *)(ok|not ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/.exec(line);
  if (!result) continue;
  const depth = result[1].length / 4;
  const name = clean(result[3]);
  const failed = result[2] === "not ok";
  const path = [...stack.slice(0, depth), name].join("/");
  if (failed && depth > 0) childFailed[depth - 1] = true;
  const announced = stack[depth] === name;
  if (announced && hadChildren[depth]) {
    // A suite: its tests speak for it, unless it failed on its own.
    if (failed && !childFailed[depth]) results.push(["FAIL", `${path} (suite: a hook failed)`]);
    continue;
  }
  let status = failed ? "FAIL" : "PASS";
  if (result[4] === "SKIP") status = "SKIP";
  if (result[4] === "TODO") status = failed ? "XFAIL" : "PASS";
  results.push([status, path]);
}

for (const [status, path] of results) {
  console.log(namesOnly ? `${prefix}/${path}` : `${status} js ${prefix}/${path}`);
}
