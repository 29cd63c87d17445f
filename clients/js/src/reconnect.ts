/**
 * Reconnecting: the backoff between attempts, which errors are worth
 * another attempt, and the loop that logs in again after the broker was
 * lost. The loop works over a narrow interface (ReconnectHost) so that it
 * sees of the Client only what an attempt needs.
 */

import { AuthError, ConnectError, NameTaken, RETRY_LATER } from "./errors.js";

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
