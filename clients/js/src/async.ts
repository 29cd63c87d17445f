/**
 * The small async primitives the client is built of: Signal (wake every
 * waiter), deferred() (a promise settled from outside), bounded() (a
 * promise with a time limit), Queue (a FIFO with O(1) shift) and Mutex
 * (a FIFO lock). No Node imports: browser.ts loads this too.
 */

/** Wake every waiter at once; waiters look at the state again. */
export class Signal {
  private waiters: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  const d = { settled: false } as Deferred<T>;
  d.promise = new Promise<T>((resolve, reject) => {
    d.resolve = (v) => {
      if (!d.settled) {
        d.settled = true;
        resolve(v);
      }
    };
    d.reject = (e) => {
      if (!d.settled) {
        d.settled = true;
        reject(e);
      }
    };
  });
  d.promise.catch(() => undefined); // a rejection nobody waits for is no crash
  return d;
}

/**
 * Run `work` with a bound of `timeoutMs` (none when undefined): on expiry,
 * `onTimeout()` gives the error to throw (and may clean up).
 */
export async function bounded<T>(
  work: Promise<T>,
  timeoutMs: number | undefined,
  onTimeout: () => Error,
): Promise<T> {
  if (timeoutMs === undefined || timeoutMs === null) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, timeoutMs));
  });
  try {
    return await Promise.race([work, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/** A FIFO queue with O(1) shift (Array.prototype.shift copies long arrays). */
export class Queue<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** A FIFO lock: senders take turns at the transport. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;
  get locked(): boolean {
    return this.held > 0;
  }
  async lock(): Promise<() => void> {
    this.held++;
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.held--;
        release();
      }
    };
  }
}
