/**
 * Request/reply over connections: request() opens a connection, sends one
 * message and waits for the first one back; answerWith() makes the
 * handler of handleRequests(), the other side. The same exchange as
 * libmpclient's mp_client_request and the Python client's request().
 */

import { bounded } from "./async.js";
import type { Connection } from "./connection.js";
import { TimeoutError } from "./errors.js";
import type { Handler, TimeoutOptions } from "./options.js";
import { checkName, type Payload, payloadBytes } from "./protocol.js";

/**
 * A request handler (handleRequests): called with each message of a
 * connection; it returns the reply (bytes or a string), a Promise of it,
 * or null/undefined to send none.
 */
export type RequestHandler = (
  data: Uint8Array,
  conn: Connection,
) => Payload | null | undefined | void | Promise<Payload | null | undefined | void>;

/** The handler that answers each message of a connection, in order, with `fn`. */
export function answerWith(fn: RequestHandler): Handler {
  return async (conn: Connection) => {
    for await (const data of conn) {
      const reply = await fn(data, conn);
      if (reply !== null && reply !== undefined) await conn.send(reply);
    }
  };
}

/** What request() needs of the Client. */
export interface RequestHost {
  /** Throw unless logged in. */
  checkReady(): void;
  /** Throw MessageTooBig when `bytes` to `peer` would not fit in a message. */
  checkRequestSize(peer: string, bytes: Uint8Array): void;
  open(peer: string, protocol: string): Promise<Connection>;
  /** Close `conn` (a no-op once it ended). */
  closeConn(conn: Connection): void;
}

/** See Client.request(). */
export async function request(
  host: RequestHost,
  peer: string,
  protocol: string,
  data: Payload,
  options: TimeoutOptions,
): Promise<Uint8Array> {
  const bytes = payloadBytes(data);
  checkName(peer);
  host.checkReady();
  host.checkRequestSize(peer, bytes);
  let conn: Connection | null = null;
  let expired = false;
  const work = (async () => {
    conn = await host.open(peer, protocol);
    if (expired) throw new TimeoutError("expired");
    await conn.send(bytes);
    return await conn.recv();
  })();
  try {
    return await bounded(work, options.timeoutMs, () => {
      expired = true;
      return new TimeoutError(
        `no reply from ${JSON.stringify(peer)} (${JSON.stringify(protocol)}) within ${options.timeoutMs} ms`,
      );
    });
  } finally {
    work.catch(() => undefined);
    if (conn !== null) host.closeConn(conn);
    else if (expired) {
      // open() is still under way: withdraw what it opens.
      work.then(
        () => conn && host.closeConn(conn),
        () => conn && host.closeConn(conn),
      );
    }
  }
}
