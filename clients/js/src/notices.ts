/**
 * The broker's notices about the session itself (level 2): Replaced (the
 * name logged in elsewhere) and GoingAway (the broker shuts down), and
 * the BrokerLost error they make of the loss that follows them.
 */

import { Signal } from "./async.js";
import { BrokerLost, GoingAway, type MpError, Replaced } from "./errors.js";
import type { Logger } from "./options.js";
import { type Message, text } from "./protocol.js";

export class Notices {
  /** What Replaced said, or null. */
  private replacedText: string | null = null;
  /** The delay GoingAway announced (ms), or null. */
  private goingAwayMs: number | null = null;
  private readonly goingAwayTold = new Signal();

  /** `name`: the client's, for the log. */
  constructor(
    private readonly log: Logger,
    private readonly name: () => string,
  ) {}

  get goingAway(): number | null {
    return this.goingAwayMs;
  }

  replaced(msg: Message): void {
    this.replacedText = text(msg.data);
    this.log.warn?.(
      `${this.name()}: the broker closes this session: ${this.replacedText} ` +
        "(Replaced: the name logged in again elsewhere)",
    );
  }

  goingAwayNotice(msg: Message): void {
    // Decimal milliseconds; a malformed delay is taken as "at once".
    const t = text(msg.data);
    this.goingAwayMs = /^[0-9]+$/.test(t) ? Number(t.slice(0, 10)) : 0;
    this.log.warn?.(`${this.name()}: the broker is going away: it closes the socket within ${this.goingAwayMs} ms`);
    this.goingAwayTold.notify();
  }

  /** Wait for GoingAway; `ended()` says why none can come any more (null while one can). */
  async waitGoingAway(ended: () => MpError | null): Promise<number> {
    while (this.goingAwayMs === null) {
      const error = ended();
      if (error !== null) throw error;
      await this.goingAwayTold.wait();
    }
    return this.goingAwayMs;
  }

  /** Wake whoever waits for GoingAway: the client ended. */
  wakeWaiters(): void {
    this.goingAwayTold.notify();
  }

  /** The session that had these notices is over: a new one starts with none. */
  reset(): void {
    this.replacedText = null;
    this.goingAwayMs = null;
  }

  /** A reconnecting client gave up: no GoingAway is pending any more. */
  forgetGoingAway(): void {
    this.goingAwayMs = null;
  }

  /** The error of the broker's loss: Replaced or GoingAway when the broker said so. */
  lostError(detail: string): BrokerLost {
    if (this.replacedText !== null) return new Replaced(this.replacedText);
    if (this.goingAwayMs !== null) return new GoingAway(this.goingAwayMs);
    return new BrokerLost(detail);
  }
}
