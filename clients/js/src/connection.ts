/**
 * Connection: one connection between this client and a peer, as the
 * application sees it (send, recv, iteration, credit). It holds its inbox
 * and its credit; what touches the broker connection (writing, the inbox
 * limits that pause reading, grants) it asks its Client to do.
 *
 * How a connection ends, as seen by recv() and `for await`:
 *
 *   the connection ended   for await (m of conn)     await conn.recv()
 *   the peer closed it     iteration ends            throws ConnectionClosed
 *   this side closed it    iteration ends            throws ConnectionClosed
 *   the peer left          throws PeerLeft           throws PeerLeft
 *   the broker was lost    throws BrokerLost         throws BrokerLost
 *
 * The messages that arrived before the end are delivered first.
 */

import { bounded, type Deferred, deferred, Queue, Signal } from "./async.js";
import type { Client } from "./client.js";
import { type BrokerLost, ConnectionClosed, type ConnectionEnded, PeerLeft, TimeoutError } from "./errors.js";
import type { TimeoutOptions } from "./options.js";
import {
  checkName,
  CloseReason,
  CREDIT_MAX,
  CREDIT_MESSAGE_COST,
  hasLoneSurrogate,
  type Payload,
  text,
} from "./protocol.js";

/** What one received message costs beyond its payload in an inbox. */
export const MESSAGE_OVERHEAD = 64;

/** Throw unless this client (`ownName`) may open a connection to `peer` for `protocol`. */
export function checkOpenArguments(peer: string, protocol: string, ownName: string): void {
  checkName(peer);
  if (peer === ownName) {
    throw new RangeError(
      `${JSON.stringify(peer)} is this client's own name: a client cannot open a connection to itself; ` +
        "log in a second client under another name to talk to this one",
    );
  }
  if (typeof protocol !== "string") throw new TypeError("protocol must be a string");
  if (hasLoneSurrogate(protocol)) throw new RangeError("protocol is not valid UTF-8");
}

/**
 * One connection between this client and a peer: a two-way, ordered stream
 * of whole messages. Made by the library: returned by Client.open(), or
 * handed to a handler. Iterate it (`for await (const msg of conn)`) or call
 * recv(); send() and close().
 */
export class Connection implements AsyncIterable<Uint8Array> {
  /** Why the connection ended, or null while it is open. */
  closeReason: CloseReason | null = null;
  /** @internal */ opening: boolean;
  /** @internal */ readonly opened: Deferred<void> | null;
  /** @internal */ readonly inbox = new Queue<Uint8Array>();
  /** @internal */ inboxBytes = 0;
  /** @internal */ readonly readable = new Signal();
  /** @internal */ endDetail = "";
  /** @internal */ lost: BrokerLost | null = null;
  /** @internal */ sendCredit: number | null = null;
  /** @internal */ readonly writable = new Signal();
  /** @internal */ recvWindow = 0;
  /** @internal */ consumedBytes = 0;

  /** @internal */
  constructor(
    readonly client: Client,
    readonly id: string,
    readonly peer: string,
    readonly protocol: string,
    opening: boolean,
  ) {
    this.opening = opening;
    this.opened = opening ? deferred<void>() : null;
  }

  /** True once the connection has ended, for whatever reason. */
  get closed(): boolean {
    return this.closeReason !== null;
  }

  /** Level 2: the bytes of credit this side holds to send; null at level 1. */
  get credit(): number | null {
    return this.sendCredit;
  }

  /** Level 2: the window this side grants the peer, in bytes; 0 at level 1. */
  get receiveWindow(): number {
    return this.recvWindow;
  }

  /** Level 2: credit the application took and not yet granted back. */
  get consumed(): number {
    return this.consumedBytes;
  }

  toString(): string {
    const state = this.closeReason === null ? "open" : `closed (${this.closeReason})`;
    return `Connection(${this.id} peer=${this.peer} protocol=${this.protocol} ${state})`;
  }

  /**
   * Send one message (a string is sent as UTF-8; "" is an empty message):
   * wait, in turn with the other senders, until the transport has room
   * and (level 2) this connection has credit, then queue it. Rejects with
   * ConnectionClosed, PeerLeft, BrokerLost, MessageTooBig, or TimeoutError
   * after `timeoutMs` (nothing was queued then).
   */
  async send(data: Payload, options: TimeoutOptions = {}): Promise<void> {
    let gaveUp = false;
    await bounded(this.client._sendData(this, data, () => gaveUp), options.timeoutMs, () => {
      gaveUp = true;
      return new TimeoutError(`${this.id}: no room to send within ${options.timeoutMs} ms`);
    });
  }

  /**
   * Send one message now, or throw WouldBlock and send nothing (`credit`
   * true: no credit left, level 2; false: the transport is full).
   */
  sendNowait(data: Payload): void {
    this.client._sendDataNowait(this, data);
  }

  /** Wait until sendNowait() may succeed. */
  async waitWritable(options: TimeoutOptions = {}): Promise<void> {
    await bounded(
      (async () => {
        await this.waitCredit();
        await this.client._waitTransportRoom(this);
      })(),
      options.timeoutMs,
      () => new TimeoutError(`${this.id}: not writable within ${options.timeoutMs} ms`),
    );
  }

  /**
   * Level 2: give the peer `nbytes` more bytes of credit on this connection;
   * without `nbytes`, what the application took since the last grant. For
   * credit: "manual"; throws LevelRequired at level 1.
   */
  grant(nbytes?: number): void {
    this.client._grant(this, nbytes);
  }

  /**
   * Close the connection: the peer is told (its iteration ends). Messages
   * not yet received are dropped. A no-op once ended.
   */
  async close(): Promise<void> {
    this.client._closeConn(this);
  }

  /**
   * The next message. Rejects with ConnectionClosed once the connection was
   * closed (by the peer, after the messages it sent before closing; or by
   * this side), PeerLeft or BrokerLost.
   */
  async recv(): Promise<Uint8Array> {
    while (this.inbox.length === 0) {
      if (this.closeReason !== null) throw this.endError();
      await this.readable.wait();
    }
    const data = this.inbox.shift()!;
    this.client._inboxTaken(this, data.length + MESSAGE_OVERHEAD);
    if (this.sendCredit !== null) this.client._consumedByApp(this, data.length + CREDIT_MESSAGE_COST);
    return data;
  }

  /** The next message as text (UTF-8; invalid bytes become U+FFFD). */
  async recvText(): Promise<string> {
    return text(await this.recv());
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        try {
          return { value: await this.recv(), done: false };
        } catch (e) {
          if (e instanceof ConnectionClosed) return { value: undefined, done: true };
          throw e;
        }
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => ({ value: undefined, done: true }),
    };
  }

  /** @internal */
  endError(): ConnectionEnded {
    const reason = this.closeReason ?? CloseReason.LOCAL;
    if (reason === CloseReason.PEER_LEFT) return new PeerLeft(this.peer);
    if (reason === CloseReason.BROKER_LOST) return this.lost ?? this.client._lostError(this.endDetail);
    return new ConnectionClosed(reason, this.endDetail);
  }

  /** @internal Wait while this connection has no credit (level 2). */
  async waitCredit(): Promise<void> {
    while (this.sendCredit !== null && this.sendCredit <= 0) {
      if (this.closeReason !== null) throw this.endError();
      await this.writable.wait();
    }
    if (this.closeReason !== null) throw this.endError();
  }

  /** @internal */
  credited(nbytes: number): void {
    if (this.sendCredit === null) return;
    this.sendCredit = Math.min(this.sendCredit + nbytes, CREDIT_MAX);
    if (this.sendCredit > 0) this.writable.notify();
  }

  /** @internal */
  deliver(data: Uint8Array): void {
    this.inbox.push(data);
    this.inboxBytes += data.length + MESSAGE_OVERHEAD;
    this.readable.notify();
  }

  /** @internal */
  openDone(): void {
    this.opening = false;
    this.opened?.resolve();
  }

  /** @internal */
  failOpen(error: unknown): void {
    this.opened?.reject(error);
  }

  /** @internal */
  end(reason: CloseReason, detail = ""): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    this.endDetail = detail;
    if (reason === CloseReason.BROKER_LOST) this.lost = this.client._lostError(detail);
    this.client._inboxLeft(this.inboxBytes);
    if (reason === CloseReason.LOCAL) {
      this.inbox.clear();
      this.inboxBytes = 0;
    }
    if (this.opening) this.failOpen(this.endError());
    this.readable.notify();
    this.writable.notify();
  }
}
