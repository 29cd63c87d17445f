/**
 * Flow control of what this client receives: the level-2 credit it grants
 * its peers as the application takes their messages, and the inbox limits
 * past which it stops reading from the broker (which then stalls the
 * senders). The Client owns one Flow, which sees of it what a FlowHost
 * gives.
 */

import { type Connection, MESSAGE_OVERHEAD } from "./connection.js";
import { LevelRequired } from "./errors.js";
import { CREDIT_MAX, type Message, message, Meta, type Settings, utf8 } from "./protocol.js";
import type { Transport } from "./transport.js";

/** What a Flow needs of its Client. */
export interface FlowHost {
  readonly inboxLimit: number;
  readonly inboxTotalLimit: number;
  readonly maxMessageSize: number;
  readonly creditMode: "auto" | "manual";
  /** Level 2: the window to give the peers when larger than the broker's. */
  readonly receiveWindow: number | null;
  settings(): Settings;
  connections(): Iterable<Connection>;
  transport(): Transport | null;
  /** Too many presence notices wait for the application. */
  presenceOverLimit(): boolean;
  /** True while logged in. */
  ready(): boolean;
  /** Throw unless logged in. */
  checkReady(): void;
  /** Write `msg` to the broker now. */
  write(msg: Message): void;
}

export class Flow {
  private inboxTotal = 0;
  private isPaused = false;

  constructor(private readonly host: FlowHost) {}

  /** True while the client does not read from the broker. */
  get paused(): boolean {
    return this.isPaused;
  }

  /** Give a new connection its credit; return a Credit to send after the Syn/Ack, if any. */
  startCredit(conn: Connection): Message | null {
    const settings = this.host.settings();
    if (settings.level < 2) return null;
    const window = settings.window;
    conn.sendCredit = window;
    conn.recvWindow = Math.max(window, this.host.receiveWindow ?? 0);
    const extra = conn.recvWindow - window;
    if (extra <= 0) return null;
    return message(Meta.CREDIT, conn.peer, conn.id, utf8(String(extra)));
  }

  /** See Connection.grant(). */
  grant(conn: Connection, nbytes: number | undefined): void {
    if (conn.sendCredit === null) {
      throw new LevelRequired(
        `credit is a protocol level 2 feature: this client speaks level ${this.host.settings().level} with the broker`,
      );
    }
    if (conn.closeReason !== null) throw conn.endError();
    this.host.checkReady();
    if (nbytes === undefined) {
      nbytes = Math.min(conn.consumedBytes, CREDIT_MAX);
      if (nbytes === 0) return;
    }
    if (typeof nbytes !== "number" || !Number.isInteger(nbytes)) throw new TypeError("a grant is an integer, in bytes");
    if (nbytes < 1 || nbytes > CREDIT_MAX) throw new RangeError(`a grant is 1 to ${CREDIT_MAX} bytes, not ${nbytes}`);
    conn.consumedBytes = Math.max(0, conn.consumedBytes - nbytes);
    this.host.write(message(Meta.CREDIT, conn.peer, conn.id, utf8(String(nbytes))));
  }

  /** The application took `cost` of credit: in automatic mode, grant back once half a window was taken. */
  consumed(conn: Connection, cost: number): void {
    conn.consumedBytes += cost;
    if (
      this.host.creditMode === "auto" &&
      conn.closeReason === null &&
      this.host.ready() &&
      conn.consumedBytes >= Math.max(1, Math.floor(conn.recvWindow / 2))
    ) {
      this.grant(conn, undefined);
    }
  }

  /** A message of `cost` arrived in an inbox. */
  received(cost: number): void {
    this.inboxTotal += cost;
    this.update();
  }

  /** The application took a message of `cost` from `conn`'s inbox. */
  taken(conn: Connection, cost: number): void {
    conn.inboxBytes -= cost;
    if (conn.closeReason === null) this.left(cost);
  }

  /** `cost` left the inboxes (taken, or its connection ended). */
  left(cost: number): void {
    this.inboxTotal -= cost;
    this.update();
  }

  /** The session ended: its inboxes count no more, and a new transport reads. */
  reset(): void {
    this.isPaused = false;
    this.inboxTotal = 0;
  }

  private inboxOver(conn: Connection): boolean {
    if (conn.closeReason !== null) return false;
    let limit = this.host.inboxLimit;
    if (conn.sendCredit !== null) {
      // Level 2: the peer sends at most the window granted plus one message.
      limit = Math.max(limit, conn.recvWindow + this.host.maxMessageSize + MESSAGE_OVERHEAD);
    }
    return conn.inboxBytes >= limit;
  }

  private anyInboxOver(): boolean {
    for (const conn of this.host.connections()) {
      if (this.inboxOver(conn)) return true;
    }
    return false;
  }

  /**
   * Stop reading from the broker while an inbox, all of them together, or
   * the presence notices are over their limits; read again once they
   * are not (the broker then stalls the senders).
   */
  update(): void {
    const over = this.inboxTotal >= this.host.inboxTotalLimit || this.host.presenceOverLimit() || this.anyInboxOver();
    const transport = this.host.transport();
    if (over === this.isPaused || !transport) return;
    this.isPaused = over;
    if (over) transport.pause();
    else transport.resume();
  }
}
