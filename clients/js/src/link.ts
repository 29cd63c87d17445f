/**
 * The link to the broker: the transport of the session (or of the login
 * attempt under way), its generation, the decoding of what it receives,
 * and the login attempt that what it receives first goes to. Each attempt
 * opens a new generation, and what an older transport still says is
 * ignored. The Client hears of the session's messages, of bytes that are
 * no message and of the transport's end through a LinkHost.
 */

import { type Address, formatAddress } from "./address.js";
import { Signal } from "./async.js";
import type { Codec, Decoder } from "./codec.js";
import { LoginAttempt, type LoginHost } from "./login.js";
import type { Message } from "./protocol.js";
import type { TlsOptions, Transport, TransportFactory } from "./transport.js";

/** What a Link needs of its Client. */
export interface LinkHost {
  readonly codec: Codec;
  readonly maxMessageSize: number;
  readonly timeoutMs: number;
  readonly keepaliveMs: number;
  readonly tlsOptions: TlsOptions;
  readonly transportFactory: TransportFactory;
  /** The name logging in. */
  name(): string;
  /** The Auth to send on a new transport. */
  auth(): Message;
  /** The broker's AuthOk. */
  loggedIn(msg: Message): void;
  /** Something came from the broker. */
  input(): void;
  /** A message from the broker, after the login's answer. */
  message(msg: Message): void;
  /** Bytes from the broker that are no message, after the login's answer. */
  undecodable(why: string): void;
  /** The current transport ended, after the login's answer. */
  ended(why: string): void;
}

export class Link {
  /** The transport of the session or of the attempt under way, or null. */
  transport: Transport | null = null;
  /** Which transport is current: data from older ones is ignored. */
  generation = 0;
  private decoder: Decoder;
  /** The login attempt under way, or null. */
  private login: LoginAttempt | null = null;
  private readonly transportClosed = new Signal();

  constructor(private readonly host: LinkHost) {
    this.decoder = this.newDecoder();
  }

  private newDecoder(): Decoder {
    const { codec, maxMessageSize } = this.host;
    return codec.decoder(codec.maxReceivedSize(maxMessageSize));
  }

  /** One login at `address`, within timeoutMs, on a new transport. */
  async logIn(address: Address): Promise<void> {
    const gen = ++this.generation;
    this.decoder = this.newDecoder();
    this.transport = null;
    const attempt = new LoginAttempt(formatAddress(address), this.host.codec.name);
    this.login = attempt;
    try {
      await attempt.run(this.loginHost(address, gen));
    } finally {
      this.login = null;
    }
  }

  /** What the login attempt (login.ts) at `address`, of generation `gen`, sees. */
  private loginHost(address: Address, gen: number): LoginHost {
    const host = this.host;
    return {
      timeoutMs: host.timeoutMs,
      name: () => host.name(),
      openTransport: (signal) =>
        host.transportFactory(
          address,
          { ...host.tlsOptions, format: host.codec.name, keepaliveMs: host.keepaliveMs, signal },
          {
            data: (chunk) => this.onData(gen, chunk),
            closed: (why) => this.onTransportClosed(gen, why),
          },
        ),
      current: () => gen === this.generation,
      connected: (transport) => {
        this.transport = transport;
        transport.write(host.codec.encode(host.auth()));
      },
      loggedIn: (msg) => host.loggedIn(msg),
      failed: () => this.drop(),
    };
  }

  private onData(gen: number, chunk: Uint8Array): void {
    if (gen !== this.generation) return;
    this.host.input();
    if (this.login?.wrongFormat(chunk)) return;
    let msgs: Message[];
    try {
      msgs = this.decoder.feed(chunk);
    } catch {
      msgs = [];
    }
    for (const msg of msgs) {
      if (gen !== this.generation) return;
      if (this.login?.waiting) this.login.answered(msg);
      else this.host.message(msg);
    }
    const error = this.decoder.error;
    if (error !== null && gen === this.generation) this.undecodable(error.message);
  }

  /** Bytes from the broker that are no message: the login fails, or the Client hears of them. */
  private undecodable(why: string): void {
    if (this.login?.waiting) this.login.undecodable(why);
    else this.host.undecodable(why);
  }

  private onTransportClosed(gen: number, why: string): void {
    this.transportClosed.notify();
    if (gen !== this.generation) return;
    if (this.login?.waiting) {
      this.login.transportClosed(why);
      return;
    }
    this.host.ended(why);
  }

  /** Forget the transport at once: whatever it still says is ignored. */
  drop(): void {
    this.generation++;
    this.transport?.destroy();
    this.transport = null;
  }

  /** Forget the transport, destroyed already: whatever it still says is ignored. */
  forget(): void {
    this.generation++;
    this.transport = null;
  }

  /**
   * Leave gracefully: end `transport` after what is queued, and wait until
   * the broker closed its side (at most timeoutMs).
   */
  async endTransport(transport: Transport): Promise<void> {
    const gone = this.transportClosed.wait();
    transport.end();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([gone, new Promise<void>((r) => (timer = setTimeout(r, this.host.timeoutMs)))]);
    clearTimeout(timer);
    transport.destroy();
  }
}
