/**
 * One login attempt at one broker address: open the transport, send the
 * Auth, wait (within timeoutMs) for the broker's answer, and say why it
 * failed when it did: a refusal, a wrong wire format in the first bytes,
 * bytes that are no message, a transport closed before the answer, or
 * the time running out. The Client feeds the attempt what the transport
 * receives while it waits, and sees it succeed through a LoginHost.
 */

import { bounded, deferred } from "./async.js";
import { ConnectError, ConnectTimeout } from "./errors.js";
import type { Message } from "./protocol.js";
import { loginRefusal, wrongFormatHint } from "./refusal.js";
import type { Transport } from "./transport.js";

/** What a login attempt needs of the Client. */
export interface LoginHost {
  readonly timeoutMs: number;
  /** The name logging in. */
  name(): string;
  /** Open the transport of this attempt (what it receives comes back to feed the attempt). */
  openTransport(signal: AbortSignal): Promise<Transport>;
  /** False once a newer attempt, or close(), superseded this one. */
  current(): boolean;
  /** The transport is open: it is the client's now; send the Auth on it. */
  connected(transport: Transport): void;
  /** The broker's AuthOk. */
  loggedIn(msg: Message): void;
  /** The attempt failed: forget its transport. */
  failed(): void;
}

export class LoginAttempt {
  private readonly answer = deferred<Message>();
  private firstBytes = true;

  /** `where`: the address, as text; `format`: the client's wire format. */
  constructor(
    private readonly where: string,
    private readonly format: string,
  ) {}

  /** True until the broker's answer (or a failure) settled the attempt. */
  get waiting(): boolean {
    return !this.answer.settled;
  }

  /**
   * The broker's first bytes: when they show a wrong wire format, fail the
   * attempt at once (permanently) and return true.
   */
  wrongFormat(chunk: Uint8Array): boolean {
    if (!this.firstBytes || chunk.length === 0) return false;
    this.firstBytes = false;
    const hint = wrongFormatHint(this.format, chunk);
    if (hint === null) return false;
    this.answer.reject(new ConnectError(`${this.where}: ${hint}`, { permanent: true }));
    return true;
  }

  /** The broker's answer to the Auth. */
  answered(msg: Message): void {
    this.answer.resolve(msg);
  }

  undecodable(why: string): void {
    this.answer.reject(new ConnectError(`undecodable login answer from ${this.where}: ${why}`, { permanent: true }));
  }

  transportClosed(why: string): void {
    this.answer.reject(new ConnectError(`${this.where} closed the connection without answering the login (${why})`));
  }

  /** Log in, within host.timeoutMs; rejects with why it failed. */
  async run(host: LoginHost): Promise<void> {
    const abort = new AbortController();
    let connected = false;
    const login = async (): Promise<void> => {
      const transport = await host.openTransport(abort.signal);
      if (abort.signal.aborted || !host.current()) {
        transport.destroy();
        throw new ConnectError(`${this.where}: the login was abandoned`);
      }
      connected = true;
      host.connected(transport);
      const msg = await this.answer.promise;
      const refusal = loginRefusal(msg, host.name(), this.where);
      if (refusal !== null) throw refusal;
      host.loggedIn(msg);
    };
    try {
      await bounded(login(), host.timeoutMs, () => {
        abort.abort();
        return this.timedOut(host.timeoutMs, connected);
      });
    } catch (e) {
      this.answer.reject(e); // login() stops waiting for it
      host.failed();
      throw e;
    }
  }

  private timedOut(timeoutMs: number, connected: boolean): ConnectTimeout {
    return new ConnectTimeout(
      connected
        ? `no login at ${this.where} within ${timeoutMs} ms (timeoutMs): connected, but the ` +
            "login got no answer (a busy broker, or not an mpbroker listener?)"
        : `cannot connect to ${this.where} within ${timeoutMs} ms (timeoutMs)`,
    );
  }
}
