/**
 * Presence (level 2): the watches this client holds, the presence notices
 * waiting for the application, and the list() requests waiting for the
 * broker's answer. The Client owns one Presence; what it needs of the
 * Client (the level check, sending, whether notices can still come) it
 * asks through a PresenceHost.
 */

import { bounded, type Deferred, deferred, Signal } from "./async.js";
import { MpError, TimeoutError } from "./errors.js";
import type { Logger, TimeoutOptions } from "./options.js";
import { checkName, hasLoneSurrogate, type Message, message, Meta, NAME_MAX, text, utf8 } from "./protocol.js";

/** Presence: the most names whose notice waits for the application. */
const PRESENCE_PENDING_LIMIT = 65536;

/** List: the most names one reply may accumulate. */
const LIST_NAMES_LIMIT = 100000;

/** A name watched (level 2) came online (true) or went offline (false). */
export interface PresenceEvent {
  name: string;
  online: boolean;
}

/** What list() returns: the names online, and `truncated`. */
export type NameList = string[] & { truncated: boolean };

/** A watch: the name or prefix, and whether it is a prefix. */
type WatchKey = [string, boolean];

interface ListRequest {
  prefix: string;
  done: Deferred<NameList>;
  names: NameList;
}

function nameList(): NameList {
  return Object.assign([] as string[], { truncated: false });
}

/** What a Presence needs of its Client. */
export interface PresenceHost {
  readonly log: Logger;
  /** The client's name, for the log. */
  name(): string;
  /** Throw unless logged in at level 2 (LevelRequired says why). */
  needLevel2(what: string): void;
  /** The most watches the broker allows. */
  maxWatches(): number;
  /** Queue `msg` for the broker, in turn with the other senders. */
  send(msg: Message): Promise<unknown>;
  /** Why no notice can come any more (closed, lost), or null while one can. */
  endedError(): MpError | null;
  /** The notices waiting changed: the client may pause or resume reading. */
  pendingChanged(): void;
}

/** A name or prefix to watch, checked. */
function watchKey(target: string, prefix: boolean): WatchKey {
  if (typeof target !== "string") throw new TypeError("a watched name or prefix is a string");
  if (prefix) {
    if (hasLoneSurrogate(target)) throw new RangeError(`prefix ${JSON.stringify(target)} is not valid UTF-8`);
    if (utf8(target).length > NAME_MAX) throw new RangeError(`a prefix is at most ${NAME_MAX} bytes`);
  } else {
    checkName(target);
  }
  return [target, prefix];
}

function watchMessage(meta: number, key: WatchKey): Message {
  return message(meta, key[0], "", key[1] ? utf8("prefix") : null);
}

export class Presence {
  /** JSON of the key -> the key: a name and a prefix of the same text are two watches. */
  private readonly watchSet = new Map<string, WatchKey>();
  /** name -> online, one entry a name in its last state, oldest first. */
  private readonly pending = new Map<string, boolean>();
  private readonly noticed = new Signal();
  private readonly lists = new Map<string, ListRequest>();
  private nextList = 0;

  constructor(private readonly host: PresenceHost) {}

  /** The watches held: [name or prefix, isPrefix]. */
  get watches(): WatchKey[] {
    return [...this.watchSet.values()].sort();
  }

  /** More notices wait than the client holds before it stops reading. */
  get overLimit(): boolean {
    return this.pending.size > PRESENCE_PENDING_LIMIT;
  }

  async watch(name: string, options: { prefix?: boolean }): Promise<void> {
    const key = watchKey(name, Boolean(options.prefix));
    this.host.needLevel2("watch()");
    const k = JSON.stringify(key);
    if (this.watchSet.has(k)) return;
    const most = this.host.maxWatches();
    if (this.watchSet.size >= most) {
      throw new MpError(
        `too many watches: the broker allows ${most} (limits.max_watches_per_client); unwatch() one first`,
      );
    }
    this.watchSet.set(k, key);
    try {
      await this.host.send(watchMessage(Meta.WATCH, key));
    } catch (e) {
      this.watchSet.delete(k);
      throw e;
    }
  }

  async unwatch(name: string, options: { prefix?: boolean }): Promise<void> {
    const key = watchKey(name, Boolean(options.prefix));
    this.host.needLevel2("unwatch()");
    const k = JSON.stringify(key);
    if (!this.watchSet.has(k)) return;
    await this.host.send(watchMessage(Meta.UNWATCH, key));
    this.watchSet.delete(k);
  }

  /** The Watch messages that hold the watches again in a new session. */
  watchMessages(): Message[] {
    return this.watches.map((key) => watchMessage(Meta.WATCH, key));
  }

  /** A new session's broker allows `keep` watches: drop those past it (in sorted order). */
  keepWatches(keep: number): void {
    if (this.watchSet.size <= keep) return;
    const keys = [...this.watchSet.keys()].sort();
    const dropped = keys.slice(keep);
    for (const k of dropped) this.watchSet.delete(k);
    this.host.log.warn?.(
      `${this.host.name()}: the broker of the new session allows ${keep} watches: dropped ${dropped.join(", ")}`,
    );
  }

  async next(): Promise<PresenceEvent> {
    while (this.pending.size === 0) {
      const ended = this.host.endedError();
      if (ended !== null) throw ended;
      await this.noticed.wait();
    }
    const [name, online] = this.pending.entries().next().value as [string, boolean];
    this.pending.delete(name);
    return { name, online };
  }

  /** A Presence from the broker. */
  notice(msg: Message): void {
    const state = text(msg.data);
    if ((state !== "online" && state !== "offline") || !msg.otherClient) {
      this.host.log.warn?.(`${this.host.name()}: a malformed Presence ignored`);
      return;
    }
    // One entry a name, in its last state, moved to the end.
    this.pending.delete(msg.otherClient);
    this.pending.set(msg.otherClient, state === "online");
    this.noticed.notify();
    this.host.pendingChanged();
  }

  async list(prefix: string, options: TimeoutOptions): Promise<NameList> {
    watchKey(prefix, true);
    this.host.needLevel2("list()");
    const requestId = `list:${(this.nextList++).toString(16)}`;
    const req: ListRequest = { prefix, done: deferred<NameList>(), names: nameList() };
    this.lists.set(requestId, req);
    try {
      return await bounded(
        (async () => {
          await this.host.send(message(Meta.LIST, prefix, requestId));
          return await req.done.promise;
        })(),
        options.timeoutMs,
        () => new TimeoutError(`no answer to list(${JSON.stringify(prefix)}) within ${options.timeoutMs} ms`),
      );
    } finally {
      this.lists.delete(requestId);
    }
  }

  /** A List reply from the broker: more names, or (empty) the last of them. */
  listReply(msg: Message): void {
    const req = this.lists.get(msg.connectionId);
    if (req === undefined || req.prefix !== msg.otherClient || req.done.settled) return;
    const names = req.names;
    // The last reply: absent data, or empty data when the broker left names out.
    if (msg.data === null || msg.data.length === 0) {
      names.truncated = names.truncated || msg.data !== null;
      req.done.resolve(names);
      return;
    }
    for (const raw of text(msg.data).split("\n")) {
      if (!raw) continue;
      if (names.length >= LIST_NAMES_LIMIT) {
        names.truncated = true;
        break;
      }
      names.push(raw);
    }
  }

  /** Fail the lists waiting, each with an error of `why()`. */
  failLists(why: () => MpError): void {
    for (const req of this.lists.values()) req.done.reject(why());
    this.lists.clear();
  }

  /** Wake whoever waits in next(): the client ended. */
  wakeWaiters(): void {
    this.noticed.notify();
  }
}
