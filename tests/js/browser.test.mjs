// browser.test.mjs - the web demo (examples/web) in a real browser:
// Debian's Chromium, headless, driven by playwright-core (which never
// downloads a browser of its own). The page is served from the
// repository over HTTP on loopback and logs in to a real broker over
// WebSocket; C clients (mpcat) talk to it over TCP.
//
// A screenshot of the page goes to $MP_ARTIFACTS_DIR (default
// tests/js/artifacts)/web-chat.png.
// Run: node --test browser.test.mjs (see run.sh for the environment).

import assert from "node:assert/strict";
import { access, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { Child, MPCAT, T, TEST_TIMEOUT, TOP, serveDirectory, startBroker } from "./lib/harness.mjs";
import { check, setup, teardown } from "./lib/listing.mjs";

const CHROMIUM = process.env.MP_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const ARTIFACTS = resolve(process.env.MP_ARTIFACTS_DIR || join(TOP, "tests", "js", "artifacts"));
const SCREENSHOT = join(ARTIFACTS, "web-chat.png");
const OPTIONS = { timeout: TEST_TIMEOUT };
const PAGE_NAME = "web_alice";

let broker, site, profile, context, page;
const pageErrors = []; // the page's console errors and uncaught exceptions

setup(async () => {
  try {
    await access(CHROMIUM);
  } catch {
    throw new Error(`Chromium is not installed (no ${CHROMIUM}): apt-get install chromium (CI installs it)`);
  }
  await rm(SCREENSHOT, { force: true }); // a stale one would look like this run's
  const { chromium } = await import("playwright-core");
  site = await serveDirectory(TOP);
  // Only the page's own origin may open WebSockets to this broker.
  broker = await startBroker({ origins: [site.origin] });
  profile = await mkdtemp(join(tmpdir(), "mpbjs-chromium."));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 900, height: 700 },
    timeout: T(30000),
  });
  context.setDefaultTimeout(T(10000));
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => {
    if (msg.type() === "error") pageErrors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on("pageerror", (error) => pageErrors.push(`exception: ${error.message}`));
});

teardown(async () => {
  await context?.close().catch(() => {});
  if (profile) await rm(profile, { recursive: true, force: true });
  await site?.close();
  if (broker) await broker.stop();
});

// What the page said, for failure messages.
async function pageState() {
  const log = await page.locator("#log").innerText().catch(() => "(no log)");
  const status = await page.locator("#status").innerText().catch(() => "(no status)");
  return `status: ${status}\nlog:\n${log}\nerrors: ${pageErrors.join("; ") || "none"}`;
}

// Wait for a log entry of kind ("in", "out", "info", "error"; "" for any)
// with text (a string or a RegExp).
async function logEntry(kind, text) {
  try {
    await page.locator(`#log li${kind ? `.${kind}` : ""}`, { hasText: text }).first().waitFor({ timeout: T(10000) });
  } catch (error) {
    throw new Error(`no ${kind} entry with "${text}" on the page: ${error.message}\n${await pageState()}`);
  }
}

async function send(peer, line) {
  await page.fill("#peer", peer);
  await page.fill("#line", line);
  await page.click("#send");
}

check("page_logs_in_over_websocket", OPTIONS, async () => {
  const url = `${site.origin}/examples/web/?address=${encodeURIComponent(broker.ws)}`;
  await page.goto(url);
  await page.locator("#status", { hasText: "Not logged in" }).waitFor().catch(async (error) => {
    throw new Error(`the page did not load its client: ${error.message}\n${await pageState()}`);
  });
  assert.equal(await page.inputValue("#address"), broker.ws);
  await page.fill("#name", PAGE_NAME);
  await page.fill("#secret", "x");
  const mark = broker.mark();
  await page.click("#login");
  await logEntry("info", `logged in as ${PAGE_NAME}`);
  const login = await broker.waitLog(`client ${PAGE_NAME} logged in:`, T(5000), mark);
  assert.match(login, /listener=ws:127\.0\.0\.1:\d+ format=json/);
  assert.match(await page.locator("#status").innerText(), /Logged in to ws:\/\/127\.0\.0\.1:\d+\/mp as web_alice/);
});

check("page_sends_to_c_and_shows_the_echo", OPTIONS, async () => {
  const mark = broker.mark();
  const echo = new Child(MPCAT, ["-a", broker.tcp, "-n", "c_bob", "-s", "x", "-v", "-e", "listen", "chat"]);
  try {
    await broker.waitLog("client c_bob logged in:", T(10000), mark);
    await send("c_bob", "hello bob, from the browser");
    await logEntry("out", "hello bob, from the browser");
    // mpcat -v prints "PEER: message" for what it received...
    await echo.waitLine(`${PAGE_NAME}: hello bob, from the browser`);
    // ...and its echo shows on the page as a message from c_bob.
    await logEntry("in", "hello bob, from the browser");
    const entry = page.locator("#log li.in", { hasText: "hello bob, from the browser" }).first();
    assert.equal(await entry.locator(".who").innerText(), "c_bob");
    const status = await echo.stop();
    assert.equal(status.code, 0, echo.describe());
  } finally {
    echo.kill();
  }
});

check("page_receives_from_c_and_replies", OPTIONS, async () => {
  // mpcat opens a chat to the page, sends a line, and leaves once one
  // reply came (-c 1).
  const cat = new Child(MPCAT, ["-a", broker.tcp, "-f", "binary", "-n", "c_carol", "-s", "x",
    "-c", "1", "-w", "10", "connect", PAGE_NAME, "chat"], { stdin: "pipe" });
  try {
    cat.write("hi page, carol here (from C)\n");
    await logEntry("in", "hi page, carol here (from C)");
    const entry = page.locator("#log li.in", { hasText: "carol here" }).first();
    assert.equal(await entry.locator(".who").innerText(), "c_carol");
    // The reply goes back on the chat carol opened.
    await send("c_carol", "hello carol, the page got it");
    await cat.waitLine("hello carol, the page got it");
    cat.endInput();
    const status = await cat.wait();
    assert.equal(status.code, 0, cat.describe());
  } finally {
    cat.kill();
  }
});

check("page_says_why_a_chat_could_not_open", OPTIONS, async () => {
  // The client's typed errors reach the page: nobody is logged in as
  // "nobody_here", and mpcat listens for another protocol than "chat".
  await send("nobody_here", "anyone?");
  await logEntry("error", /cannot send to nobody_here: NoSuchClient/);
  const mark = broker.mark();
  const other = new Child(MPCAT, ["-a", broker.tcp, "-n", "c_dave", "-s", "x", "listen", "not_chat"]);
  try {
    await broker.waitLog("client c_dave logged in:", T(10000), mark);
    await send("c_dave", "do you chat?");
    await logEntry("error", /cannot send to c_dave: UnknownProtocol/);
    assert.equal((await other.stop()).code, 0, other.describe());
  } finally {
    other.kill();
  }
});

check("two_pages_chat_json_and_binary", OPTIONS, async () => {
  // A second tab logs in with the binary format: the broker translates
  // between the two pages' formats.
  const other = await context.newPage();
  try {
    await other.goto(`${site.origin}/examples/web/?address=${encodeURIComponent(broker.ws)}&name=web_bin&format=binary`);
    await other.locator("#status", { hasText: "Not logged in" }).waitFor();
    assert.equal(await other.inputValue("#format"), "binary");
    const mark = broker.mark();
    await other.click("#login");
    await other.locator("#status", { hasText: "as web_bin (binary)" }).waitFor();
    assert.match(await broker.waitLog("client web_bin logged in:", T(5000), mark), / format=binary/);
    await send("web_bin", "from the json page: héllo ✓");
    await other.locator("#log li.in", { hasText: "from the json page: héllo ✓" }).waitFor();
    await other.fill("#peer", PAGE_NAME);
    await other.fill("#line", "and back from the binary page");
    await other.click("#send");
    await logEntry("in", "and back from the binary page");
    // Logging out ends the chat: the peer closed it, or left the broker.
    await other.click("#logout");
    await logEntry("info", /web_bin closed the chat|web_bin left the broker/);
  } finally {
    await other.close();
  }
});

check("page_from_another_origin_is_refused", OPTIONS, async () => {
  // The broker allows only the first site's origin: the same page served
  // from another port (another origin) cannot open its WebSocket.
  const elsewhere = await serveDirectory(TOP);
  const stranger = await context.newPage();
  try {
    await stranger.goto(`${elsewhere.origin}/examples/web/?address=${encodeURIComponent(broker.ws)}&name=web_stranger`);
    await stranger.locator("#status", { hasText: "Not logged in" }).waitFor();
    const mark = broker.mark();
    await stranger.click("#login");
    await stranger.locator("#log li.error", { hasText: "cannot log in as web_stranger" }).waitFor();
    await broker.waitLog(`WebSocket handshake refused (403`, T(5000), mark);
    assert.match(await stranger.locator("#status").innerText(), /Not logged in/);
  } finally {
    await stranger.close();
    await elsewhere.close();
  }
});

check("screenshot_saved", OPTIONS, async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok((await stat(SCREENSHOT)).size > 1000, `${SCREENSHOT} is too small`);
  assert.deepEqual(pageErrors, [], "the page reported errors");
});
