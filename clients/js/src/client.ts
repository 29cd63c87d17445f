/**
 * The Client, as the Python client's (clients/python, mpclient.client), in
 * camelCase and with Promises: the coordinator of a session. It holds the
 * state (new, connecting, ready, reconnecting, closing, closed, lost) and
 * the connections, and hands the work to one part a concept: link.ts (the
 * transport, its generation, decoding), login.ts (a login attempt),
 * sending.ts (senders' turns and credit), flow.ts (grants and the inbox
 * limits), dispatch.ts (what the broker sends), presence.ts (watches,
 * notices, lists), notices.ts (Replaced, GoingAway), request.ts
 * (request/reply), reconnect.ts (the reconnect loop), idle.ts
 * (idleTimeoutMs). Each part sees of the Client only what its *Host
 * interface gives: the private *Host() methods below build them.
 * No Node imports here: the transports come from the entry point
 * (index.ts for Node, browser.ts for browsers).
 *
 * A client connects to the broker, logs in with a name and a secret, and
 * then opens connections to other clients by (peer name, protocol) with
 * open(), or accepts the ones they open through handlers registered per
 * protocol with handle() (a Syn for a protocol without a handler is
 * refused with UnknownProto, automatically).
 */

import { type Address, formatAddress } from "./address.js";
import { bounded, deferred } from "./async.js";
import type { Codec } from "./codec.js";
import { checkOpenArguments, Connection } from "./connection.js";
import { Dispatcher, type DispatchHost } from "./dispatch.js";
import {
  BrokerLost,
  ConnectError,
  ConnectionClosed,
  Disconnected,
  LevelRequired,
  MessageTooBig,
  MpError,
  Replaced,
  TimeoutError,
} from "./errors.js";
import { Flow, type FlowHost } from "./flow.js";
import { IdleWatch } from "./idle.js";
import { Link, type LinkHost } from "./link.js";
import { Notices } from "./notices.js";
import { checkOptions, type ClientOptions, type Handler, type Logger, parseAddresses, type TimeoutOptions } from "./options.js";
import { type NameList, Presence, type PresenceEvent, type PresenceHost } from "./presence.js";
import {
  checkName,
  CloseReason,
  LEVEL1_SETTINGS,
  type Message,
  message,
  Meta,
  NAME_MAX,
  nameError,
  parseSettings,
  type Payload,
  payloadBytes,
  type Settings,
  utf8,
} from "./protocol.js";
import { Backoff, callHook, reconnectLoop, type ReconnectHost, retryable } from "./reconnect.js";
import { answerWith, request, type RequestHandler, type RequestHost } from "./request.js";
import { Sender, type SenderHost } from "./sending.js";
import type { TlsOptions, TransportFactory } from "./transport.js";

type State = "new" | "connecting" | "ready" | "reconnecting" | "closing" | "closed" | "lost";

let defaultTransport: TransportFactory | null = null;

/**
 * @internal The entry point registers its transports: Node's always (they
 * do WebSocket too), the browser's only when none is registered.
 */
export function setDefaultTransport(factory: TransportFactory, onlyIfNone = false): void {
  if (!onlyIfNone || defaultTransport === null) defaultTransport = factory;
}

/**
 * A client of an mpbroker. `address` is "tcp:HOST:PORT", "tls:HOST:PORT",
 * "unix:PATH", "ws://HOST:PORT/PATH", "wss://..." or a list of them (tried
 * in turn; reconnect walks the list round robin).
 */
export class Client {
  readonly maxMessageSize: number;
  readonly timeoutMs: number;
  readonly inboxLimit: number;
  readonly inboxTotalLimit: number;
  readonly maxConnections: number;
  readonly creditMode: "auto" | "manual";
  readonly receiveWindowOption: number | null;
  readonly reconnect: boolean;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  readonly reconnectMaxAttempts: number;
  onDisconnected: ((error: BrokerLost) => unknown) | null;
  onReconnecting: ((attempt: number, delayMs: number) => unknown) | null;
  onReconnected: (() => unknown) | null;

  /**
   * Settles when the client is done: resolves after close() or abort();
   * rejects with BrokerLost (or Replaced, GoingAway) when the broker
   * connection was lost, or with the last attempt's error when a
   * reconnecting client gave up.
   */
  readonly closed: Promise<void>;

  private readonly addressList: Address[];
  private addressIndex = 0;
  private currentAddress: Address;
  private clientName: string;
  private readonly secret: Uint8Array;
  private readonly codec: Codec;
  private readonly tlsOptions: TlsOptions;
  private readonly keepaliveMs: number;
  readonly idleTimeoutMs: number | null;
  private readonly idle: IdleWatch;
  private readonly wantedLevel: number;
  private readonly log: Logger;
  private readonly handlers = new Map<string, Handler>();

  private state: State = "new";
  private readonly link: Link;
  private early: Message[] = [];
  private earlyError: string | null = null;
  private readonly sender: Sender;
  private readonly flow: Flow;
  private readonly conns = new Map<string, Connection>();
  private nextConn = 0;
  private readonly done = deferred<void>();
  private lostDetail: string | null = null;
  private gaveUp: unknown = null;
  private readonly backoff = new Backoff();
  private settingsNow: Settings = LEVEL1_SETTINGS;
  private readonly presenceState: Presence;
  private readonly notices: Notices;
  private readonly dispatcher: Dispatcher;

  constructor(address: string | string[], name: string, secret: Payload = "", options: ClientOptions = {}) {
    this.addressList = parseAddresses(address);
    this.currentAddress = this.addressList[0]!;
    this.clientName = checkName(name);
    this.secret = payloadBytes(secret);
    const o = checkOptions(options);
    this.codec = o.codec;
    this.tlsOptions = o.tlsOptions;
    this.maxMessageSize = o.maxMessageSize;
    this.timeoutMs = o.timeoutMs;
    this.inboxLimit = o.inboxLimit;
    this.inboxTotalLimit = o.inboxTotalLimit;
    this.maxConnections = o.maxConnections;
    this.keepaliveMs = o.keepaliveMs;
    this.idleTimeoutMs = o.idleTimeoutMs;
    this.wantedLevel = o.level;
    this.creditMode = o.creditMode;
    this.receiveWindowOption = o.receiveWindow;
    this.reconnect = o.reconnect;
    this.reconnectInitialMs = o.reconnectInitialMs;
    this.reconnectMaxMs = o.reconnectMaxMs;
    this.reconnectMaxAttempts = o.reconnectMaxAttempts;
    this.onDisconnected = options.onDisconnected ?? null;
    this.onReconnecting = options.onReconnecting ?? null;
    this.onReconnected = options.onReconnected ?? null;
    this.log = o.logger;
    this.idle = new IdleWatch(this.idleTimeoutMs, () => this.state === "ready", (why) => this.lose(why));
    this.presenceState = new Presence(this.presenceHost());
    this.sender = new Sender(this.senderHost());
    this.flow = new Flow(this.flowHost());
    this.notices = new Notices(this.log, () => this.clientName);
    this.dispatcher = new Dispatcher(this.dispatchHost());
    const factory = options.transport ?? defaultTransport;
    if (!factory) throw new MpError("no transport: import mpclient from its Node or browser entry point");
    this.link = new Link(this.linkHost(factory));
    for (const [protocol, handler] of Object.entries(options.handlers ?? {})) {
      this.handle(protocol, handler);
    }
    this.closed = this.done.promise;
  }

  // -- properties -----------------------------------------------------------

  /** The name this client logs in with (once logged in: the one the broker confirmed). */
  get name(): string {
    return this.clientName;
  }

  /** The broker address of the session (or of the attempt under way), as text. */
  get address(): string {
    return formatAddress(this.currentAddress);
  }

  /** Every broker address the client may use, in order. */
  get addresses(): string[] {
    return this.addressList.map(formatAddress);
  }

  /** The wire format, "json" or "binary". */
  get format(): "json" | "binary" {
    return this.codec.name;
  }

  /** True between a successful login and the end; false while reconnecting. */
  get loggedIn(): boolean {
    return this.state === "ready";
  }

  /** True while the client, having lost the broker, tries to log in again. */
  get reconnecting(): boolean {
    return this.state === "reconnecting";
  }

  /** Why the broker connection was lost, or null. */
  get lostReason(): string | null {
    return this.lostDetail;
  }

  /** True while the client does not read from the broker (an inbox is full). */
  get paused(): boolean {
    return this.flow.paused;
  }

  /** The connections open or being opened now. */
  get connections(): Connection[] {
    return [...this.conns.values()];
  }

  /** The protocol level spoken with the broker: 2 or 1 (also before the login). */
  get level(): number {
    return this.settingsNow.level;
  }

  /** What the broker's AuthOk said (level, window, watches). */
  get settings(): Settings {
    return this.settingsNow;
  }

  /** Level 2: the window each direction of a connection starts with; 0 at level 1. */
  get window(): number {
    return this.settingsNow.window;
  }

  /** Level 2: the most watches the broker allows this client; 0 at level 1. */
  get maxWatches(): number {
    return this.settingsNow.watches;
  }

  /** The watches held now: [name or prefix, isPrefix]. */
  get watches(): Array<[string, boolean]> {
    return this.presenceState.watches;
  }

  /** Level 2: once the broker announced it shuts down, the delay it gave (ms). */
  get goingAway(): number | null {
    return this.notices.goingAway;
  }

  toString(): string {
    return `Client(${this.clientName} at ${this.address} (${this.codec.name}) ${this.state})`;
  }

  // -- handlers ---------------------------------------------------------------

  /**
   * Accept connections for `protocol` with `handler`. A peer opening a
   * protocol without a handler is refused with UnknownProto. Throws if
   * `protocol` already has one.
   */
  handle(protocol: string, handler: Handler): void {
    if (typeof protocol !== "string") throw new TypeError("protocol must be a string");
    if (typeof handler !== "function") throw new TypeError("handler must be a function");
    if (this.handlers.has(protocol)) throw new RangeError(`protocol ${JSON.stringify(protocol)} already has a handler`);
    this.handlers.set(protocol, handler);
  }

  /** Stop accepting `protocol` (open connections stay). */
  unhandle(protocol: string): void {
    if (!this.handlers.delete(protocol)) throw new RangeError(`protocol ${JSON.stringify(protocol)} has no handler`);
  }

  /**
   * The server side of request(): accept connections for `protocol` and
   * answer each message on them, in order, with `fn(data)`. When `fn`
   * throws, the error is logged and the connection closed.
   */
  handleRequests(protocol: string, fn: RequestHandler): void {
    if (typeof fn !== "function") throw new TypeError("fn must be a function");
    this.handle(protocol, answerWith(fn));
  }

  // -- lifecycle --------------------------------------------------------------

  /**
   * Connect and log in. Rejects with AuthError (NameTaken), TlsError,
   * ConnectTimeout or ConnectError. With several addresses, each is tried
   * in turn while they cannot be reached.
   */
  async connect(): Promise<void> {
    if (this.state !== "new") throw new MpError(`connect() on a client that is ${this.state}`);
    this.state = "connecting";
    const failures: string[] = [];
    for (let index = 0; index < this.addressList.length; index++) {
      this.useAddress(index);
      try {
        await this.tryLogin();
        break;
      } catch (e) {
        const last = index === this.addressList.length - 1;
        if (last || !retryable(e) || (this.state as State) !== "connecting") {
          this.state = "closed";
          this.done.resolve();
          throw this.connectFailure(e, failures);
        }
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    if ((this.state as State) !== "connecting") {
      this.link.transport?.destroy();
      this.state = "closed";
      this.done.resolve();
      throw new ConnectionClosed(CloseReason.LOCAL, "the client was closed during the login");
    }
    this.startSession();
  }

  /**
   * What connect() rejects with after `error`, the last attempt's: when
   * earlier addresses failed too (`failures`) and retrying could help, an
   * error that names them all.
   */
  private connectFailure(error: unknown, failures: string[]): unknown {
    if (failures.length && error instanceof ConnectError && !error.permanent) {
      failures.push(error.message);
      return new ConnectError(
        `cannot log in at any of ${this.addressList.length} brokers: ${failures.join("; ")}`,
        { cause: error },
      );
    }
    return error;
  }

  private useAddress(index: number): void {
    this.addressIndex = index % this.addressList.length;
    this.currentAddress = this.addressList[this.addressIndex]!;
  }

  private startSession(): void {
    this.state = "ready";
    this.idle.start();
    const early = this.early;
    this.early = [];
    for (const msg of early) this.dispatcher.dispatch(msg);
    const error = this.earlyError;
    this.earlyError = null;
    if (error !== null) this.lose(error);
  }

  /** One login at the current address, within timeoutMs. */
  private tryLogin(): Promise<void> {
    this.early = [];
    this.earlyError = null;
    return this.link.logIn(this.currentAddress);
  }

  /** What the Link (link.ts) sees of this client. */
  private linkHost(transportFactory: TransportFactory): LinkHost {
    return {
      codec: this.codec,
      maxMessageSize: this.maxMessageSize,
      timeoutMs: this.timeoutMs,
      keepaliveMs: this.keepaliveMs,
      tlsOptions: this.tlsOptions,
      transportFactory,
      name: () => this.clientName,
      // Level 1 announces nothing: the Auth of the 2015 clients, byte for byte.
      auth: () => message(Meta.AUTH, this.clientName, "", this.secret, this.wantedLevel > 1 ? this.wantedLevel : null),
      loggedIn: (msg) => {
        if (msg.otherClient && nameError(msg.otherClient) === null) this.clientName = msg.otherClient;
        this.settingsNow = this.wantedLevel >= 2 ? parseSettings(msg.data) : LEVEL1_SETTINGS;
      },
      input: () => this.idle.input(),
      message: (msg) => {
        if (this.state === "ready") this.dispatcher.dispatch(msg);
        else if (this.state !== "closing") this.early.push(msg); // after the AuthOk, before the session starts
      },
      undecodable: (why) => {
        if (this.state === "ready") this.lose(`undecodable message from the broker: ${why}`);
        // After a valid AuthOk, before the session starts: it is lost at once.
        else this.earlyError = `undecodable message from the broker: ${why}`;
      },
      ended: (why) => {
        if (this.state === "ready") this.lose(why);
        else if (this.state === "closing") this.link.transport = null;
      },
    };
  }

  /**
   * Leave the broker gracefully: every connection is closed (the peers are
   * told), everything queued is sent, and this resolves once the broker
   * closed its side (or after timeoutMs). A no-op once closed or lost; a
   * reconnecting client stops trying.
   */
  async close(): Promise<void> {
    if (this.endBeforeSession()) return;
    if (this.state === "closing") {
      await this.done.promise.catch(() => undefined);
      return;
    }
    this.state = "closing";
    this.idle.stop();
    for (const conn of this.conns.values()) {
      this.write(message(Meta.CONN_CLOSED, conn.peer, conn.id));
      conn.end(CloseReason.LOCAL);
    }
    this.conns.clear();
    this.endRequests(null, true);
    const transport = this.link.transport;
    if (transport) await this.link.endTransport(transport);
    this.link.forget();
    this.state = "closed";
    this.done.resolve();
  }

  /**
   * close() and abort() outside a session: before it (connect() then
   * fails), after it, or while reconnecting (which stops). True when that
   * was all there was to do.
   */
  private endBeforeSession(): boolean {
    if (this.state === "new" || this.state === "connecting") {
      // A connect() under way settles `closed` itself once its attempt ends.
      if (this.state === "new") this.done.resolve();
      this.state = "closed";
      return true;
    }
    if (this.state === "closed" || this.state === "lost") return true;
    if (this.state === "reconnecting") {
      this.stopReconnecting();
      return true;
    }
    return false;
  }

  /**
   * Drop the broker connection at once, without closing the connections
   * first: the peers get ClientClosed, as if this process had died.
   */
  abort(): void {
    if (this.endBeforeSession()) return;
    this.state = "closed";
    this.idle.stop();
    for (const conn of this.conns.values()) conn.end(CloseReason.LOCAL);
    this.conns.clear();
    this.endRequests(null, true);
    this.link.drop();
    this.done.resolve();
  }

  // -- opening connections ------------------------------------------------------

  /**
   * Open a connection to `peer` for `protocol` and wait until the peer
   * accepts it. Rejects with NoSuchClient, UnknownProtocol, Denied (level
   * 2), PeerLeft, BrokerLost, Disconnected (reconnecting),
   * ConnectionClosed, or TimeoutError after `timeoutMs` (the Syn is then
   * withdrawn).
   */
  async open(peer: string, protocol: string, options: TimeoutOptions = {}): Promise<Connection> {
    checkOpenArguments(peer, protocol, this.clientName);
    this.checkReady();
    if (this.conns.size >= this.maxConnections) {
      throw new MpError(`maxConnections (${this.maxConnections}) connections are open`);
    }
    const [connId, syn] = this.nextSyn(peer, protocol);
    this.nextConn++;
    const conn = new Connection(this, connId, peer, protocol, true);
    const extra = this.startCredit(conn);
    this.conns.set(connId, conn);
    let synQueued = false;
    let expired = false;
    const work = (async () => {
      await this.sender.queue(syn, conn, 0, () => expired);
      synQueued = true;
      if (extra) this.link.transport?.write(extra);
      await conn.opened!.promise;
    })();
    try {
      await bounded(work, options.timeoutMs, () => {
        expired = true;
        return new TimeoutError(
          `no answer from ${JSON.stringify(peer)} to opening ${JSON.stringify(protocol)} within ${options.timeoutMs} ms`,
        );
      });
    } catch (e) {
      work.catch(() => undefined);
      this.withdrawOpen(conn, synQueued);
      throw e;
    }
    return conn;
  }

  /** The id of the next connection to open, and its Syn; throws when they cannot be sent. */
  private nextSyn(peer: string, protocol: string): [string, Uint8Array] {
    const connId = `${this.clientName}:${this.nextConn.toString(16)}`;
    if (utf8(connId).length > NAME_MAX) throw new MpError("connection id too long: use a shorter client name");
    const syn = this.codec.encode(message(Meta.CONN_SYN, peer, connId, utf8(protocol)));
    if (syn.length > this.maxMessageSize) {
      throw new MessageTooBig(`a Syn of ${syn.length} bytes is over ${this.maxMessageSize}`);
    }
    return [connId, syn];
  }

  /** Give a new connection its credit (level 2); return a Credit to send after the Syn/Ack, if any. */
  private startCredit(conn: Connection): Uint8Array | null {
    const extra = this.flow.startCredit(conn);
    return extra === null ? null : this.codec.encode(extra);
  }

  /** open() failed: tell the peer when the Syn went out, and forget the connection. */
  private withdrawOpen(conn: Connection, synQueued: boolean): void {
    if (synQueued) this.closeConn(conn);
    else if (conn.closeReason === null) {
      this.conns.delete(conn.id);
      conn.end(CloseReason.LOCAL);
    }
  }

  // -- request/reply ------------------------------------------------------------

  /**
   * Ask `peer` one question: open a connection for `protocol`, send `data`,
   * and resolve with the first message the peer sends back; the connection
   * is closed then (and on every error). `timeoutMs` bounds the whole
   * exchange. Rejects as open(), and with ConnectionClosed when the peer
   * closed without replying, TimeoutError when no reply came in time.
   */
  request(peer: string, protocol: string, data: Payload, options: TimeoutOptions = {}): Promise<Uint8Array> {
    return request(this.requestHost(), peer, protocol, data, options);
  }

  /** What request() (request.ts) sees of this client. */
  private requestHost(): RequestHost {
    return {
      checkReady: () => this.checkReady(),
      checkRequestSize: (peer, bytes) => {
        this.sender.dataFrame(peer, `${this.clientName}:${this.nextConn.toString(16)}`, bytes, "a request");
      },
      open: (peer, protocol) => this.open(peer, protocol),
      closeConn: (conn) => this.closeConn(conn),
    };
  }

  // -- presence (level 2) -----------------------------------------------------

  private needLevel2(what: string): void {
    this.checkReady();
    if (this.settingsNow.level < 2) {
      const why = this.wantedLevel < 2 ? "this client announced level 1" : "the broker speaks level 1";
      throw new LevelRequired(`${what} needs protocol level 2, and ${why}`);
    }
  }

  /**
   * Level 2: be told when `name` comes online or goes offline (presence());
   * with `{ prefix: true }`, every name that starts with `name`. Throws
   * LevelRequired at level 1, MpError past maxWatches.
   */
  watch(name: string, options: { prefix?: boolean } = {}): Promise<void> {
    return this.presenceState.watch(name, options);
  }

  /** End a watch() (same arguments); nothing if not watched. */
  unwatch(name: string, options: { prefix?: boolean } = {}): Promise<void> {
    return this.presenceState.unwatch(name, options);
  }

  /**
   * The next presence notice, waiting for one. Rejects with
   * ConnectionClosed once the client is closed, BrokerLost once the broker
   * is lost; a reconnecting client keeps waiting.
   */
  nextPresence(): Promise<PresenceEvent> {
    return this.presenceState.next();
  }

  /** The presence notices as they come: `for await (const ev of client.presence())`. */
  async *presence(): AsyncGenerator<PresenceEvent, void, undefined> {
    for (;;) {
      let ev: PresenceEvent;
      try {
        ev = await this.nextPresence();
      } catch (e) {
        if (e instanceof ConnectionClosed) return;
        throw e;
      }
      yield ev;
    }
  }

  /**
   * Level 2: the names online that start with `prefix` ("" = all) that
   * this client may see. Throws LevelRequired at level 1.
   */
  list(prefix = "", options: TimeoutOptions = {}): Promise<NameList> {
    return this.presenceState.list(prefix, options);
  }

  /**
   * Level 2: wait until the broker announces that it shuts down; resolve
   * with the delay it gave, in milliseconds.
   */
  waitGoingAway(): Promise<number> {
    return this.notices.waitGoingAway(() => this.waitEnded());
  }

  // -- the state, as the parts see it -------------------------------------------

  private checkReady(): void {
    if (this.state !== "ready") throw this.notReadyError();
  }

  private notReadyError(): MpError {
    if (this.state === "lost") return this.gaveUp instanceof MpError ? this.gaveUp : this._lostError();
    if (this.state === "reconnecting") return new Disconnected(this.lostDetail ?? "");
    if (this.state === "closing" || this.state === "closed") {
      return new ConnectionClosed(CloseReason.LOCAL, "the client is closed");
    }
    return new MpError("not logged in: call connect() first");
  }

  /** Why no notice (presence, GoingAway) can come any more, or null while one can. */
  private waitEnded(): MpError | null {
    return this.state !== "ready" && this.state !== "reconnecting" ? this.notReadyError() : null;
  }

  /** Fail the lists waiting; when final, wake whoever waits for presence or GoingAway. */
  private endRequests(error: MpError | null, final: boolean): void {
    this.presenceState.failLists(() => error ?? this.notReadyError());
    if (final) {
      this.presenceState.wakeWaiters();
      this.notices.wakeWaiters();
    }
  }

  // -- what a Connection asks of its Client --------------------------------------

  private write(msg: Message): void {
    this.link.transport?.write(this.codec.encode(msg));
  }

  /** @internal */
  _waitTransportRoom(conn: Connection): Promise<void> {
    return this.sender.waitRoom(conn);
  }

  /** @internal */
  _sendData(conn: Connection, data: Payload, abandoned: () => boolean): Promise<void> {
    return this.sender.send(conn, data, abandoned);
  }

  /** @internal */
  _sendDataNowait(conn: Connection, data: Payload): void {
    this.sender.sendNowait(conn, data);
  }

  /** @internal */
  _grant(conn: Connection, nbytes: number | undefined): void {
    this.flow.grant(conn, nbytes);
  }

  /** @internal */
  _consumedByApp(conn: Connection, cost: number): void {
    this.flow.consumed(conn, cost);
  }

  /** @internal */
  _closeConn(conn: Connection): void {
    this.closeConn(conn);
  }

  private closeConn(conn: Connection, detail = ""): void {
    if (conn.closeReason !== null) return;
    if (this.state === "ready") this.write(message(Meta.CONN_CLOSED, conn.peer, conn.id));
    this.conns.delete(conn.id);
    conn.end(CloseReason.LOCAL, detail);
  }

  /** @internal */
  _inboxTaken(conn: Connection, cost: number): void {
    this.flow.taken(conn, cost);
  }

  /** @internal */
  _inboxLeft(cost: number): void {
    this.flow.left(cost);
  }

  // -- losing the broker, reconnecting -------------------------------------------

  /** @internal */
  _lostError(detail: string | null = null): BrokerLost {
    return this.notices.lostError(detail ?? this.lostDetail ?? "");
  }

  /**
   * The broker connection of the session was lost: end everything of the
   * session, then either reconnect (unless the broker said Replaced) or be
   * done.
   */
  private lose(detail: string): void {
    if (this.state !== "ready") return;
    const error = this._lostError(detail);
    const again = this.reconnect && !(error instanceof Replaced);
    this.state = again ? "reconnecting" : "lost";
    this.idle.stop();
    this.lostDetail = error.detail;
    if (again) this.log.warn?.(`${this.clientName}: broker lost: ${error.detail}; reconnecting`);
    for (const conn of this.conns.values()) conn.end(CloseReason.BROKER_LOST, error.detail);
    this.conns.clear();
    this.endRequests(error, !again);
    this.link.drop();
    this.flow.reset();
    if (!again) {
      this.done.reject(error);
      return;
    }
    callHook(this.log, "onDisconnected", () => this.onDisconnected?.(error));
    void reconnectLoop(this.reconnectHost());
  }

  /** Logged in again: a new session, in which nothing of the old one carries over but the handlers and the watches. */
  private resumeSession(attempt: number): void {
    this.notices.reset();
    this.presenceState.keepWatches(this.settingsNow.level >= 2 ? this.settingsNow.watches : 0);
    this.startSession();
    for (const msg of this.presenceState.watchMessages()) this.write(msg);
    this.log.info?.(`${this.clientName}: logged in again at ${this.address} (attempt ${attempt})`);
    callHook(this.log, "onReconnected", () => this.onReconnected?.());
  }

  private giveUp(error: unknown, why: string): void {
    this.state = "lost";
    this.gaveUp = error;
    this.notices.forgetGoingAway();
    this.lostDetail = `${why}: ${error instanceof Error ? error.message : String(error)}`;
    this.log.warn?.(`${this.clientName}: ${this.lostDetail}`);
    this.endRequests(null, true);
    this.done.reject(error);
  }

  private stopReconnecting(): void {
    this.state = "closed";
    this.link.drop();
    this.backoff.stop();
    this.endRequests(null, true);
    this.done.resolve();
  }

  // -- the parts' views of this client ------------------------------------------

  /** What the Dispatcher (dispatch.ts) sees of this client. */
  private dispatchHost(): DispatchHost {
    return {
      log: this.log,
      maxConnections: this.maxConnections,
      conns: this.conns,
      flow: this.flow,
      presence: this.presenceState,
      notices: this.notices,
      name: () => this.clientName,
      level: () => this.settingsNow.level,
      handler: (protocol) => this.handlers.get(protocol),
      write: (msg) => this.write(msg),
      accept: (id, peer, protocol) => {
        const conn = new Connection(this, id, peer, protocol, false);
        this.conns.set(conn.id, conn);
        this.write(message(Meta.CONN_ACK, conn.peer, conn.id));
        const extra = this.startCredit(conn);
        if (extra) this.link.transport?.write(extra);
        return conn;
      },
      closeConn: (conn) => this.closeConn(conn),
    };
  }

  /** What the Flow (flow.ts) sees of this client. */
  private flowHost(): FlowHost {
    return {
      inboxLimit: this.inboxLimit,
      inboxTotalLimit: this.inboxTotalLimit,
      maxMessageSize: this.maxMessageSize,
      creditMode: this.creditMode,
      receiveWindow: this.receiveWindowOption,
      settings: () => this.settingsNow,
      connections: () => this.conns.values(),
      transport: () => this.link.transport,
      presenceOverLimit: () => this.presenceState.overLimit,
      ready: () => this.state === "ready",
      checkReady: () => this.checkReady(),
      write: (msg) => this.write(msg),
    };
  }

  /** What the Sender (sending.ts) sees of this client. */
  private senderHost(): SenderHost {
    return {
      codec: this.codec,
      maxMessageSize: this.maxMessageSize,
      transport: () => this.link.transport,
      generation: () => this.link.generation,
      ready: () => this.state === "ready",
      checkReady: () => this.checkReady(),
    };
  }

  /** What the watches, presence notices and lists (presence.ts) see of this client. */
  private presenceHost(): PresenceHost {
    return {
      log: this.log,
      name: () => this.clientName,
      needLevel2: (what) => this.needLevel2(what),
      maxWatches: () => this.settingsNow.watches,
      send: (msg) => this.sender.queue(this.codec.encode(msg), null),
      endedError: () => this.waitEnded(),
      pendingChanged: () => this.flow.update(),
    };
  }

  /** What the reconnect loop (reconnect.ts) sees of this client. */
  private reconnectHost(): ReconnectHost {
    return {
      reconnectInitialMs: this.reconnectInitialMs,
      reconnectMaxMs: this.reconnectMaxMs,
      reconnectMaxAttempts: this.reconnectMaxAttempts,
      backoff: this.backoff,
      reconnecting: () => this.state === "reconnecting",
      beforeAttempt: (attempt, delayMs) => {
        this.useAddress(this.addressIndex + 1);
        callHook(this.log, "onReconnecting", () => this.onReconnecting?.(attempt, delayMs));
      },
      login: () => this.tryLogin(),
      address: () => this.address,
      attemptFailed: (attempt, error) => {
        this.lostDetail = error instanceof Error ? error.message : String(error);
        this.log.info?.(`${this.clientName}: reconnect attempt ${attempt} failed: ${this.lostDetail}`);
      },
      giveUp: (error, why) => this.giveUp(error, why),
      abandon: () => this.link.drop(),
      resume: (attempt) => this.resumeSession(attempt),
    };
  }

}

/** Create a Client (same arguments), log it in and resolve with it. */
export async function connect(
  address: string | string[],
  name: string,
  secret: Payload = "",
  options: ClientOptions = {},
): Promise<Client> {
  const client = new Client(address, name, secret, options);
  await client.connect();
  return client;
}

