/** Everything both entry points export (no Node imports). */

export { type Address, formatAddress, parseAddress } from "./address.js";
export { Client } from "./client.js";
export { Connection, MESSAGE_OVERHEAD } from "./connection.js";
export { type ClientOptions, type Handler, type Logger, type TimeoutOptions, DEFAULT_MAX_MESSAGE_SIZE } from "./options.js";
export type { NameList, PresenceEvent } from "./presence.js";
export type { RequestHandler } from "./request.js";
export { RECONNECT_INITIAL_MS, RECONNECT_MAX_MS, reconnectDelay } from "./reconnect.js";
export {
  type Codec,
  type Decoder,
  BINARY_CODEC,
  BinaryDecoder,
  base64Decode,
  base64Encode,
  binaryWorstCase,
  decodeBinary,
  decodeJson,
  encodeBinary,
  encodeJson,
  getCodec,
  goJsonString,
  JSON_CODEC,
  JsonDecoder,
  jsonWorstCase,
} from "./codec.js";
export {
  AuthError,
  BrokerLost,
  ConnectError,
  ConnectionClosed,
  ConnectionEnded,
  ConnectTimeout,
  DecodeError,
  Denied,
  Disconnected,
  GoingAway,
  LevelRequired,
  MessageTooBig,
  MpError,
  NameTaken,
  NoSuchClient,
  OpenError,
  PeerLeft,
  Replaced,
  TimeoutError,
  TlsError,
  UnknownProtocol,
  WouldBlock,
} from "./errors.js";
export {
  type Message,
  type Settings,
  checkName,
  CloseReason,
  CREDIT_MAX,
  CREDIT_MESSAGE_COST,
  DEFAULT_WATCHES,
  DEFAULT_WINDOW,
  describeCloseReason,
  message,
  Meta,
  NAME_MAX,
  nameError,
  parseCredit,
  parseSettings,
  type Payload,
  PROTOCOL_LEVEL,
} from "./protocol.js";
export type { TlsOptions, Transport, TransportFactory, TransportOptions, TransportSink } from "./transport.js";

/** This package's version. */
export const VERSION = "0.2.0";
