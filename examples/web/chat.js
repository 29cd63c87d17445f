// chat.js - the web demo's logic: a chat between named peers through
// mpbroker, with the JavaScript client's browser build (plain ES modules,
// no bundler: build clients/js first, `npm ci && npm run build` there).
//
// One chat is one mpbroker connection of the protocol "chat", whichever
// side opened it; each message is one line of UTF-8 text. The page keeps
// at most one chat per peer: a line to a peer goes on the chat that peer
// opened to us, else on one we open. Everything shown goes through log().

import { connect, PeerLeft } from "../../clients/js/dist/browser.js";

const PROTOCOL = "chat";

const $ = (id) => document.getElementById(id);
const decoder = new TextDecoder(); // not fatal: stray bytes show as U+FFFD

let client = null; // the logged-in Client, or null
// peer name -> Promise<Connection>: a promise, so that two lines typed
// quickly to a new peer share one open instead of racing two.
const chats = new Map();

// ---------------------------------------------------------------------------
// The message log

// Add one line to the log. kind: "in" (a message received), "out" (one
// sent), "info" or "error". who is shown in bold before the text.
function log(kind, text, who = "") {
  const item = document.createElement("li");
  item.className = kind;
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = new Date().toLocaleTimeString();
  item.append(time);
  if (who) {
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who;
    item.append(name, ": ");
  }
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(body);
  const list = $("log");
  list.append(item);
  item.scrollIntoView({ block: "nearest" });
}

function setStatus(text, online) {
  const status = $("status");
  status.textContent = text;
  status.className = `status ${online ? "online" : "offline"}`;
  $("login").disabled = online;
  $("logout").disabled = !online;
  $("send-fields").disabled = !online;
  for (const id of ["address", "name", "secret", "format"]) $(id).disabled = online;
}

// Errors of the client are MpError subclasses (AuthError, NoSuchClient,
// UnknownProtocol, BrokerLost, ...): their name says which.
function describe(error) {
  const kind = error && error.name && error.name !== "Error" ? `${error.name}: ` : "";
  return `${kind}${error && error.message ? error.message : error}`;
}

// ---------------------------------------------------------------------------
// Chats

// Show every message of one chat until it ends. Serves both the chats
// peers open to us (the client calls it as the "chat" handler) and the
// ones we open.
async function serveChat(conn) {
  const peer = conn.peer;
  remember(peer, conn);
  try {
    for await (const data of conn) log("in", decoder.decode(data), peer);
    log("info", `${peer} closed the chat`);
  } catch (error) {
    if (error instanceof PeerLeft) log("info", `${peer} left the broker`);
    else if (client !== null) log("error", `the chat with ${peer} ended: ${describe(error)}`);
  } finally {
    forget(peer, conn);
  }
}

function remember(peer, conn) {
  if (!chats.has(peer)) {
    chats.set(peer, Promise.resolve(conn));
    log("info", `chat with ${peer} open`);
  }
}

async function forget(peer, conn) {
  const current = chats.get(peer);
  if (current !== undefined && (await current.catch(() => null)) === conn) chats.delete(peer);
}

// The chat with peer: the one open, or a new one (which serveChat then
// shows).
function chatWith(peer) {
  let pending = chats.get(peer);
  if (pending === undefined) {
    pending = client.open(peer, PROTOCOL);
    chats.set(peer, pending);
    pending.then(
      (conn) => {
        log("info", `chat with ${peer} open`);
        serveChat(conn);
      },
      () => chats.delete(peer),
    );
  }
  return pending;
}

async function sendLine(peer, line) {
  const conn = await chatWith(peer);
  await conn.send(line);
  log("out", line, `to ${peer}`);
}

// ---------------------------------------------------------------------------
// Logging in and out

async function logIn() {
  const address = $("address").value.trim();
  const name = $("name").value.trim();
  const format = $("format").value;
  setStatus(`Logging in to ${address} as ${name}...`, false);
  $("login").disabled = true;
  try {
    client = await connect(address, name, $("secret").value, {
      format,
      handlers: { [PROTOCOL]: serveChat },
    });
  } catch (error) {
    client = null;
    setStatus("Not logged in.", false);
    log("error", `cannot log in as ${name}: ${describe(error)}`);
    return;
  }
  setStatus(`Logged in to ${address} as ${name} (${format}).`, true);
  log("info", `logged in as ${name}; others can chat with ${name} now`);
  $("peer").focus();
}

async function logOut() {
  const leaving = client;
  client = null; // serveChat stays quiet about the chats this ends
  chats.clear();
  setStatus("Not logged in.", false);
  if (leaving === null) return;
  try {
    await leaving.close();
    log("info", "logged out");
  } catch (error) {
    log("error", `logging out: ${describe(error)}`);
  }
}

// ---------------------------------------------------------------------------
// The forms

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  logIn();
});

$("logout").addEventListener("click", () => logOut());

$("send-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const peer = $("peer").value.trim();
  const line = $("line").value;
  if (client === null || peer === "" || line === "") return;
  $("line").value = "";
  try {
    await sendLine(peer, line);
  } catch (error) {
    log("error", `cannot send to ${peer}: ${describe(error)}`);
  }
  $("line").focus();
});

// ?address=...&name=...&peer=... fill in the forms (handy for links and
// tests); the secret is never taken from the URL.
const query = new URLSearchParams(location.search);
for (const id of ["address", "name", "peer"]) {
  if (query.has(id)) $(id).value = query.get(id);
}
if (query.get("format") === "binary") $("format").value = "binary";

window.addEventListener("pagehide", () => {
  if (client !== null) client.close().catch(() => {});
});

// The module and the client it imports have loaded (a failed import
// never gets here: index.html's onerror says so instead).
setStatus("Not logged in.", false);
