/**
 * What the broker says when it will not have this client, turned into
 * errors that say what to do: the refusal line of a listener that does
 * not speak the client's wire format (and the other signs of a wrong
 * format in the first bytes), and an AuthFailure or an unexpected answer
 * to the login.
 */

import { AuthError, ConnectError, type MpError, NameTaken } from "./errors.js";
import { type Message, Meta, text } from "./protocol.js";

/** How the broker's line starts when it does not recognise the wire format. */
const REFUSAL_PREFIX = "mpbroker: ";

/** The broker's AuthFailure when another session holds the name. */
const NAME_TAKEN = "name already in use";

/** The first line of the broker's answer, printable, for an error message. */
function brokerLine(first: Uint8Array): string {
  const line = text(first.subarray(0, 200)).split("\n", 1)[0] ?? "";
  return line.replace(/[^\x20-\x7e\u00a0-\uffff]/g, "?");
}

/** Why the first bytes of the broker's answer cannot be in `fmt`, or null. */
export function wrongFormatHint(fmt: string, first: Uint8Array): string | null {
  const head = text(first.subarray(0, REFUSAL_PREFIX.length));
  if (head === REFUSAL_PREFIX) {
    return (
      `the broker refused this client's wire format (${fmt}): it said ` +
      `${JSON.stringify(brokerLine(first))}; use a format the listener speaks, or another listener`
    );
  }
  if (fmt === "binary" && first[0] === 0x7b && first[1] === 0x22) {
    return (
      "the broker answered in JSON: this listener speaks JSON, not binary; " +
      'use format: "json", or a binary or "auto" listener'
    );
  }
  if (fmt === "json" && first.length > 0 && ![0x7b, 0x20, 0x09, 0x0d, 0x0a].includes(first[0]!)) {
    if (first[0] === 0) {
      return (
        "the broker answered in the binary format: this listener speaks binary, not JSON; " +
        'use format: "binary", or a JSON or "auto" listener'
      );
    }
    return `the broker's answer is not JSON (${JSON.stringify(brokerLine(first))}): is this an mpbroker listener of the JSON format?`;
  }
  return null;
}

/**
 * Why the answer `msg` to the login of `name` at `where` is no AuthOk
 * (NameTaken, AuthError, or a permanent ConnectError), or null for an AuthOk.
 */
export function loginRefusal(msg: Message, name: string, where: string): MpError | null {
  if (msg.meta === Meta.AUTH_FAILURE) {
    const reason = text(msg.data);
    if (reason === NAME_TAKEN) return new NameTaken(reason, name);
    return new AuthError(reason, name);
  }
  if (msg.meta !== Meta.AUTH_OK) {
    return new ConnectError(`${where} answered the login with meta ${msg.meta}`, { permanent: true });
  }
  return null;
}
