/**
 * Dispatch: each message the broker sends during a session, handed to
 * what it is for. A connection's messages go to its Connection; a Syn to
 * the handler of its protocol (or it is refused); a peer's departure ends
 * its connections; the level-2 notices go to Presence and Notices. The
 * Dispatcher sees of the Client what a DispatchHost gives.
 */

import { type Connection, MESSAGE_OVERHEAD } from "./connection.js";
import { ConnectionEnded, Denied, NoSuchClient, UnknownProtocol } from "./errors.js";
import type { Flow } from "./flow.js";
import type { Notices } from "./notices.js";
import type { Handler, Logger } from "./options.js";
import type { Presence } from "./presence.js";
import { CloseReason, type Message, message, Meta, nameError, parseCredit, text, utf8, utf8Decoder } from "./protocol.js";

/** What a Dispatcher needs of its Client. */
export interface DispatchHost {
  readonly log: Logger;
  readonly maxConnections: number;
  /** The connections open or being opened, by id. */
  readonly conns: Map<string, Connection>;
  readonly flow: Flow;
  readonly presence: Presence;
  readonly notices: Notices;
  /** The client's name, for the log. */
  name(): string;
  /** The protocol level spoken with the broker. */
  level(): number;
  handler(protocol: string): Handler | undefined;
  /** Write `msg` to the broker now. */
  write(msg: Message): void;
  /** Accept the Syn `id` from `peer`: a new Connection, registered, acknowledged and credited. */
  accept(id: string, peer: string, protocol: string): Connection;
  /** Close `conn` (a no-op once it ended). */
  closeConn(conn: Connection): void;
}

/** The protocol a Syn asks for, or null when it is not valid UTF-8. */
function synProtocol(msg: Message): string | null {
  try {
    return utf8Decoder.decode(msg.data ?? new Uint8Array(0));
  } catch {
    return null;
  }
}

export class Dispatcher {
  /** The maxConnections warning is logged once. */
  private synLimitLogged = false;
  /** The level-2 messages of the broker that belong to no connection, and who takes each. */
  private readonly noticeTakers: Map<number, (msg: Message) => void>;

  constructor(private readonly host: DispatchHost) {
    this.noticeTakers = new Map<number, (msg: Message) => void>([
      [Meta.PRESENCE, (msg) => host.presence.notice(msg)],
      [Meta.LIST, (msg) => host.presence.listReply(msg)],
      [Meta.REPLACED, (msg) => host.notices.replaced(msg)],
      [Meta.GOING_AWAY, (msg) => host.notices.goingAwayNotice(msg)],
    ]);
  }

  dispatch(msg: Message): void {
    const meta = msg.meta;
    if (meta === Meta.CONN_SYN) {
      this.syn(msg);
      return;
    }
    if (meta === Meta.CLIENT_CLOSED) {
      this.peerLeft(msg.otherClient);
      return;
    }
    if (meta === Meta.WAT) {
      this.host.log.warn?.(`${this.host.name()}: the broker did not understand a message (WAT): ${text(msg.data)}`);
      return;
    }
    const taker = this.noticeTakers.get(meta);
    if (taker !== undefined && this.host.level() >= 2) {
      taker(msg);
      return;
    }
    const conn = this.host.conns.get(msg.connectionId);
    // Late messages for a connection closed here, and anything not from the
    // connection's peer, are ignored.
    if (conn === undefined || conn.peer !== msg.otherClient) {
      this.host.log.debug?.(`${this.host.name()}: ignored meta ${meta} on ${msg.connectionId}`);
      return;
    }
    this.connMessage(conn, msg);
  }

  private peerLeft(peer: string): void {
    const conns = this.host.conns;
    for (const conn of [...conns.values()]) {
      if (conn.peer === peer) {
        conns.delete(conn.id);
        conn.end(CloseReason.PEER_LEFT);
      }
    }
    this.host.flow.update();
  }

  /** A message for `conn`, from its peer. */
  private connMessage(conn: Connection, msg: Message): void {
    const meta = msg.meta;
    switch (meta) {
      case Meta.DATA:
        if (!conn.opening) {
          conn.deliver(msg.data ?? new Uint8Array(0));
          this.host.flow.received((msg.data?.length ?? 0) + MESSAGE_OVERHEAD);
        }
        break;
      case Meta.CONN_ACK:
        if (conn.opening) conn.openDone();
        break;
      case Meta.UNKNOWN_PROTO:
      case Meta.NO_SUCH_CONNECTION:
      case Meta.CONN_CLOSED:
        this.host.conns.delete(conn.id);
        if (conn.opening) {
          if (meta === Meta.UNKNOWN_PROTO) conn.failOpen(new UnknownProtocol(conn.peer, conn.protocol));
          else if (meta === Meta.NO_SUCH_CONNECTION) conn.failOpen(new NoSuchClient(conn.peer, conn.protocol));
        }
        conn.end(CloseReason.BY_PEER);
        this.host.flow.update();
        break;
      case Meta.CREDIT:
        if (this.host.level() >= 2) this.credit(conn, msg);
        break;
      case Meta.DENIED:
        if (this.host.level() >= 2) this.denied(conn, msg);
        break;
      default:
        this.host.log.debug?.(`${this.host.name()}: ignored meta ${meta} from the broker`);
    }
  }

  private credit(conn: Connection, msg: Message): void {
    const grant = parseCredit(msg.data);
    if (grant === null) this.host.log.warn?.(`${this.host.name()}: a malformed Credit on ${conn.id} ignored`);
    else conn.credited(grant);
  }

  private denied(conn: Connection, msg: Message): void {
    const reason = text(msg.data);
    this.host.conns.delete(conn.id);
    if (conn.opening) conn.failOpen(new Denied(conn.peer, conn.protocol, reason));
    conn.end(CloseReason.BY_PEER, `denied: ${reason}`);
  }

  /** A peer opens a connection: accept it with the protocol's handler, or refuse it. */
  private syn(msg: Message): void {
    const protocol = synProtocol(msg);
    const handler = protocol !== null ? this.host.handler(protocol) : undefined;
    if (
      handler === undefined ||
      protocol === null ||
      this.host.conns.has(msg.connectionId) ||
      nameError(msg.otherClient) !== null
    ) {
      this.host.write(message(Meta.UNKNOWN_PROTO, msg.otherClient, msg.connectionId));
      return;
    }
    if (this.host.conns.size >= this.host.maxConnections) {
      this.refuseOverLimit(msg);
      return;
    }
    const conn = this.host.accept(msg.connectionId, msg.otherClient, protocol);
    this.runHandler(handler, conn);
  }

  /** As the broker's max_connections_per_client: at level 2 with Denied, which says why. */
  private refuseOverLimit(msg: Message): void {
    const level2 = this.host.level() >= 2;
    if (!this.synLimitLogged) {
      this.host.log.warn?.(
        `${this.host.name()}: maxConnections (${this.host.maxConnections}) reached: refusing Syns with ` +
          (level2 ? "Denied" : "UnknownProto"),
      );
      this.synLimitLogged = true;
    }
    if (level2) this.host.write(message(Meta.DENIED, msg.otherClient, msg.connectionId, utf8("too many connections")));
    else this.host.write(message(Meta.UNKNOWN_PROTO, msg.otherClient, msg.connectionId));
  }

  /**
   * Hand `conn` to `handler`. When it returns a Promise, close the
   * connection once that settles; what it throws is logged.
   */
  private runHandler(handler: Handler, conn: Connection): void {
    const { log } = this.host;
    const protocol = conn.protocol;
    let result: unknown;
    try {
      result = handler(conn);
    } catch (e) {
      log.error?.(`${this.host.name()}: the handler for ${JSON.stringify(protocol)} threw`, e);
      this.host.closeConn(conn);
      return;
    }
    if (result && typeof (result as Promise<unknown>).then === "function") {
      (result as Promise<unknown>).then(
        () => this.host.closeConn(conn),
        (e: unknown) => {
          // A connection that ended under the handler is no failure of it.
          if (!(e instanceof ConnectionEnded)) {
            log.error?.(`${this.host.name()}: the handler for ${JSON.stringify(protocol)} failed`, e);
          }
          this.host.closeConn(conn);
        },
      );
    }
  }
}
