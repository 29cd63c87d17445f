/**
 * Reconnecting: the backoff between attempts, which errors are worth
 * another attempt, and the loop that logs in again after the broker was
 * lost. The loop works over a narrow interface (ReconnectHost) so that it
 * sees of the Client only what an attempt needs.
 */

import { AuthError, ConnectError, NameTaken, RETRY_LATER } from "./errors.js";
import type { Logger } from "./options.js";

/** The reconnect delays' defaults, as libmpclient's (milliseconds). */
export const RECONNECT_INITIAL_MS = 100;
export const RECONNECT_MAX_MS = 10000;

/**
 * The wait before reconnect attempt `attempt` (1, 2, ...): none for the
 * first, then min(maxMs, initialMs * 2^(attempt - 2)) times a random
 * factor in [0.5, 1].
 */
export function reconnectDelay(attempt: number, initialMs: number, maxMs: number): number {
  if (attempt <= 1) return 0;
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 2, 60));
  return base * (0.5 + Math.random() * 0.5);
}

/** Whether another attempt can mend `error` (a refused secret or name cannot). */
export function retryable(error: unknown): boolean {
  if (error instanceof NameTaken) return false;
  if (error instanceof AuthError) return error.reason.endsWith(RETRY_LATER);
  if (error instanceof ConnectError) return !error.permanent;
  return false;
}

/**
 * Call an application callback (onDisconnected, ...): what it throws, or
 * the Promise it returns rejects with, is logged, never thrown at the
 * client, which has its own work to finish.
 */
export function callHook(log: Logger, what: string, call: () => unknown): void {
  try {
    const result = call();
    if (result && typeof (result as Promise<unknown>).then === "function") {
      (result as Promise<unknown>).then(undefined, (e) => log.error?.(`the ${what} callback failed`, e));
    }
  } catch (e) {
    log.error?.(`the ${what} callback threw`, e);
  }
}

/** The wait between attempts, which close() cuts short. */
export class Backoff {
  private wake: (() => void) | null = null;

  /** Sleep `ms`, or less when stop() wakes it. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  /** End the sleep under way, if any, at once. */
  stop(): void {
    this.wake?.();
  }
}

/** What the reconnect loop needs of the Client. */
export interface ReconnectHost {
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  readonly reconnectMaxAttempts: number;
  readonly backoff: Backoff;
  /** False once close() or abort() stopped the reconnecting. */
  reconnecting(): boolean;
  /** Before attempt `attempt`: take the next address, tell onReconnecting. */
  beforeAttempt(attempt: number, delayMs: number): void;
  /** One login at the current address. */
  login(): Promise<void>;
  /** The current address, as text. */
  address(): string;
  /** Attempt `attempt` failed with `error`, and another follows. */
  attemptFailed(attempt: number, error: unknown): void;
  /** Stop trying: the client is lost, with `error`. */
  giveUp(error: unknown, why: string): void;
  /** The login succeeded after close() or abort(): drop its transport. */
  abandon(): void;
  /** Logged in again at attempt `attempt`: start the new session. */
  resume(attempt: number): void;
}

/**
 * Log in again, attempt after attempt with the backoff between them,
 * until a login succeeds, an error that retrying cannot mend (or
 * reconnectMaxAttempts) gives up, or close() stops it.
 */
export async function reconnectLoop(host: ReconnectHost): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const delay = reconnectDelay(attempt, host.reconnectInitialMs, host.reconnectMaxMs);
    host.beforeAttempt(attempt, delay);
    if (delay > 0) await host.backoff.sleep(delay);
    if (!host.reconnecting()) return;
    try {
      await host.login();
    } catch (e) {
      if (!host.reconnecting()) return;
      const why = giveUpReason(host, attempt, e);
      if (why !== null) {
        host.giveUp(e, why);
        return;
      }
      host.attemptFailed(attempt, e);
      continue;
    }
    if (host.reconnecting()) host.resume(attempt);
    else host.abandon();
    return;
  }
}

/** Why attempt `attempt`, failed with `error`, is the last; null to try again. */
function giveUpReason(host: ReconnectHost, attempt: number, error: unknown): string | null {
  if (!retryable(error)) return `cannot log in again at ${host.address()}`;
  if (host.reconnectMaxAttempts && attempt >= host.reconnectMaxAttempts) {
    return `gave up after ${attempt} reconnect attempts`;
  }
  return null;
}
