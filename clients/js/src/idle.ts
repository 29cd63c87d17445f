/**
 * idleTimeoutMs: give the broker up as lost after that long without a
 * byte from it. One timer looks when the bound could have passed (cheaper
 * than a new timer for every chunk received), and looks again later when
 * something came meanwhile.
 */

export class IdleWatch {
  private lastInput = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /**
   * `boundMs`: null for no bound; `active()`: whether the session still
   * runs; `idle(why)`: the bound passed.
   */
  constructor(
    private readonly boundMs: number | null,
    private readonly active: () => boolean,
    private readonly idle: (why: string) => void,
  ) {}

  /** Something came from the broker. */
  input(): void {
    this.lastInput = Date.now();
  }

  /** A session starts: count from now. */
  start(): void {
    this.lastInput = Date.now();
    if (this.boundMs === null) return;
    const bound = this.boundMs;
    if (this.timer !== null) clearTimeout(this.timer);
    const look = (): void => {
      this.timer = null;
      if (!this.active()) return;
      const quiet = Date.now() - this.lastInput;
      if (quiet >= bound) this.idle(`nothing from the broker for ${bound} ms (idleTimeoutMs)`);
      else this.timer = setTimeout(look, bound - quiet);
    };
    this.timer = setTimeout(look, bound);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
