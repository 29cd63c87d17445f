/**
 * Sending: how frames reach the transport. Senders take turns (a FIFO
 * lock) and wait while the transport is full; at level 2 a Data message
 * also waits for its connection's credit, and pays for itself out of it.
 * The Sender sees of the Client only what a SenderHost gives.
 */

import { Mutex } from "./async.js";
import type { Codec } from "./codec.js";
import type { Connection } from "./connection.js";
import { MessageTooBig, MpError, TimeoutError, WouldBlock } from "./errors.js";
import { CREDIT_MESSAGE_COST, message, Meta, type Payload, payloadBytes } from "./protocol.js";
import type { Transport } from "./transport.js";

/** What a Sender needs of its Client. */
export interface SenderHost {
  readonly codec: Codec;
  readonly maxMessageSize: number;
  /** The transport of the session, or null. */
  transport(): Transport | null;
  /** Which transport is current: it changes when one is dropped. */
  generation(): number;
  /** True while logged in. */
  ready(): boolean;
  /** Throw unless logged in. */
  checkReady(): void;
}

export class Sender {
  private readonly lock = new Mutex();

  constructor(private readonly host: SenderHost) {}

  /**
   * The Data frame of `bytes` for `conn` (its peer and id); MessageTooBig
   * (`what` names it: "a message", "a request") over maxMessageSize.
   */
  dataFrame(peer: string, id: string, bytes: Uint8Array, what: string): Uint8Array {
    const { codec, maxMessageSize } = this.host;
    const frame = codec.encode(message(Meta.DATA, peer, id, bytes));
    if (frame.length > maxMessageSize) {
      throw new MessageTooBig(
        `${what} of ${bytes.length} bytes encodes to ${frame.length} bytes in ${codec.name}, ` +
          `over maxMessageSize ${maxMessageSize}`,
      );
    }
    return frame;
  }

  /**
   * Queue `frame` (for `conn`, if any) once the transport has room, in turn
   * with the other senders. A Data frame's `cost` is taken from `conn`'s
   * credit (level 2); when another sender took the last of it meanwhile,
   * nothing is queued and this resolves false.
   */
  async queue(
    frame: Uint8Array,
    conn: Connection | null,
    cost = 0,
    abandoned: () => boolean = () => false,
  ): Promise<boolean> {
    const release = await this.lock.lock();
    try {
      const gen = this.host.generation();
      let transport: Transport | null;
      while ((transport = this.host.transport()) && transport.full && this.host.ready()) {
        await transport.waitRoom();
        if (gen !== this.host.generation()) break;
      }
      if (abandoned()) throw new TimeoutError("expired");
      if (conn !== null && conn.closeReason !== null) throw conn.endError();
      this.host.checkReady();
      if (cost && conn !== null && conn.sendCredit !== null) {
        if (conn.sendCredit <= 0) return false;
        conn.sendCredit -= cost;
      }
      this.host.transport()!.write(frame);
      return true;
    } finally {
      release();
    }
  }

  /** Wait, in turn with the senders, until the transport has room. */
  async waitRoom(conn: Connection): Promise<void> {
    const release = await this.lock.lock();
    try {
      let transport: Transport | null;
      while ((transport = this.host.transport()) && transport.full && this.host.ready()) await transport.waitRoom();
      if (conn.closeReason !== null) throw conn.endError();
      this.host.checkReady();
    } finally {
      release();
    }
  }

  private connFrame(conn: Connection, data: Payload): [Uint8Array, number] {
    const bytes = payloadBytes(data);
    if (conn.closeReason !== null) throw conn.endError();
    if (conn.opening) throw new MpError("the connection is not open yet");
    this.host.checkReady();
    return [this.dataFrame(conn.peer, conn.id, bytes, "a message"), bytes.length];
  }

  /** Send `data` on `conn`, waiting for room and (level 2) credit; see Connection.send(). */
  async send(conn: Connection, data: Payload, abandoned: () => boolean): Promise<void> {
    const [frame, length] = this.connFrame(conn, data);
    if (conn.sendCredit === null) {
      await this.queue(frame, conn, 0, abandoned);
      return;
    }
    // Level 2: wait for this connection's credit before taking a turn at
    // the transport, so that a connection without credit never holds up
    // the others.
    const cost = length + CREDIT_MESSAGE_COST;
    for (;;) {
      await conn.waitCredit();
      if (abandoned()) throw new TimeoutError("expired");
      if (await this.queue(frame, conn, cost, abandoned)) return;
    }
  }

  /** Send `data` on `conn` now, or throw WouldBlock; see Connection.sendNowait(). */
  sendNowait(conn: Connection, data: Payload): void {
    const [frame, length] = this.connFrame(conn, data);
    const credit = conn.sendCredit;
    if (credit !== null && credit <= 0) {
      throw new WouldBlock(
        `${conn.id}: no credit left (${credit} bytes): the peer has not consumed what was sent yet ` +
          "(waitWritable() waits for its grant)",
        true,
      );
    }
    const transport = this.host.transport()!;
    if (this.lock.locked || transport.full) {
      throw new WouldBlock(
        "the transport is full: the broker does not take what this client writes fast enough " +
          "(waitWritable() waits for room)",
        false,
      );
    }
    transport.write(frame);
    if (credit !== null) conn.sendCredit = credit - (length + CREDIT_MESSAGE_COST);
  }
}
