"""The two wire formats (translators) of mpbroker, byte for byte.

* ``json``: one object per line, exactly as the original Go JSON translator
  (and the broker) write it::

      {"Meta":5,"OtherClient":"bob","ConnectionID":"alice:0","Data":"ZWNobw=="}

* ``binary``: a big-endian u32 LENGTH of the rest, then meta, flags, name
  length, id length, [level], name, id, data.

Each format has an encoder (:meth:`Codec.encode`, a pure function of the
message) and an incremental decoder (:meth:`Codec.decoder`), which is fed
bytes as they arrive and returns the complete messages.

See ``doc/protocol.md`` in the mpbroker source tree.
"""

from __future__ import annotations

import binascii
import json
import re
import struct
from collections.abc import Callable
from typing import Any

from .errors import DecodeError
from .protocol import NAME_MAX, Message

__all__ = [
    "Codec",
    "Decoder",
    "JsonDecoder",
    "BinaryDecoder",
    "JSON",
    "BINARY",
    "FORMATS",
    "get_codec",
    "encode_json",
    "encode_binary",
    "go_json_string",
    "json_worst_case",
    "binary_worst_case",
    "DEFAULT_MAX_BATCH",
]

#: The most messages one :meth:`Decoder.feed` returns (see ``max_batch``).
DEFAULT_MAX_BATCH = 1024

FLAG_HAS_DATA = 0x01
FLAG_HAS_LEVEL = 0x02
_FLAGS_RESERVED = 0xFC

_HEADER = struct.Struct(">IBBBB")


def _check_byte(what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise ValueError(f"{what} must be an integer 0-255, not {value!r}")
    return value


def _name_bytes(what: str, value: str) -> bytes:
    try:
        b = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid UTF-8: {value!r}") from None
    if len(b) > NAME_MAX:
        raise ValueError(f"{what} is longer than {NAME_MAX} bytes")
    return b


# ----------------------------------------------------------------------------
# JSON: writing


# Everything Go's encoding/json (with its default HTML escaping) writes as an
# escape; lone surrogates stand for bytes that were not valid UTF-8.
_GO_ESCAPE_RE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _go_escape(m: re.Match[str]) -> str:
    ch = m.group()
    esc = _GO_ESCAPES.get(ch)
    if esc is not None:
        return esc
    if "\ud800" <= ch <= "\udfff":
        return "\\ufffd"
    return f"\\u{ord(ch):04x}"


def go_json_string(s: str) -> str:
    """``s`` as a JSON string literal, quotes included, escaped exactly as
    Go's ``encoding/json`` escapes it: ``"``, ``\\``, ``\\n``, ``\\r``,
    ``\\t``; other control characters as ``\\u00XX`` (lower-case hex);
    ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\uXXXX``; a lone surrogate
    (a byte that was not valid UTF-8, kept by ``surrogateescape``) as
    ``\\ufffd``; everything else, DEL and ``/`` included, as itself."""
    return '"' + _GO_ESCAPE_RE.sub(_go_escape, s) + '"'


def encode_json(msg: Message) -> bytes:
    """One message in the JSON format, with its trailing newline: the bytes
    the original Go translator writes (plus ``"Level":N`` when the message
    announces a level)."""
    meta = _check_byte("meta", msg.meta)
    _name_bytes("other_client", msg.other_client)
    _name_bytes("connection_id", msg.connection_id)
    if msg.data is None:
        data = "null"
    else:
        data = '"' + binascii.b2a_base64(msg.data, newline=False).decode("ascii") + '"'
    text = (
        f'{{"Meta":{meta},"OtherClient":{go_json_string(msg.other_client)},'
        f'"ConnectionID":{go_json_string(msg.connection_id)},"Data":{data}'
    )
    if msg.level is not None:
        text += f',"Level":{_check_byte("level", msg.level)}'
    return (text + "}\n").encode("utf-8", "surrogateescape")


# ----------------------------------------------------------------------------
# JSON: reading


class _Pairs(list[tuple[str, Any]]):
    """A JSON object, as its (key, value) pairs in order: only the keys a
    message has (any case); the others were checked and skipped."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: Lines up to this many characters are parsed by the json module in one go
#: (fast; its objects cost up to 30 times the text, so at most ~0.5 MB);
#: longer ones - a message with a lot of data, or a hostile line - field
#: by field, building only the fields of a message (see _skip_value).
_FAST_LINE = 16384


def _fields_only(pairs: list[tuple[str, Any]]) -> _Pairs:
    """object_pairs_hook of the fast path: keep the message fields, check
    the strings of the rest (as _skip_value does on the long path)."""
    kept = _Pairs()
    for key, value in pairs:
        if key.lower() in _FIELDS:
            kept.append((key, value))
        else:
            _check_string(key)
            _check_strings_in(value)
    return kept


def _check_strings_in(value: Any) -> None:
    if isinstance(value, str):
        _check_string(value)
    elif isinstance(value, list):  # an array, or the fields of an object
        for item in value:
            if isinstance(item, tuple):
                _check_strings_in(item[1])
            else:
                _check_strings_in(item)


_JSON_DECODER = json.JSONDecoder(
    object_pairs_hook=_fields_only, parse_constant=_reject_constant, strict=True
)
_scan_scalar = _JSON_DECODER.scan_once  # C: a string, number or literal
_scan_string = json.decoder.scanstring  # C: the rest of a string literal
_skip_ws = re.compile(r"[ \t\n\r]*").match

#: The keys of a message, lower case (keys are case-insensitive).
_FIELDS = frozenset(("meta", "otherclient", "connectionid", "data", "level"))


class _Container:
    """Stands for an object or array where a message field is: never a
    valid field value, and not built."""


_CONTAINER = _Container()


def _malformed(what: str, pos: int) -> DecodeError:
    return DecodeError(f"malformed JSON: {what} at character {pos}")


def _key(text: str, pos: int) -> tuple[str, int]:
    """The key at ``pos`` and the position of its value (after the ``:``
    and the space around it)."""
    if text[pos : pos + 1] != '"':
        raise _malformed("expecting a key", pos)
    key, pos = _scan_string(text, pos + 1, True)
    pos = _skip_ws(text, pos).end()
    if text[pos : pos + 1] != ":":
        raise _malformed("expecting ':'", pos)
    return key, _skip_ws(text, pos + 1).end()


def _scalar(text: str, pos: int) -> tuple[Any, int]:
    """The string, number or literal at ``pos``, and the position after."""
    try:
        value, end = _scan_scalar(text, pos)
    except StopIteration:
        raise _malformed("expecting a value", pos) from None
    return value, int(end)


def _skip_key(text: str, pos: int) -> int:
    key, pos = _key(text, pos)
    _check_string(key)
    return pos


def _skip_scalar(text: str, pos: int) -> int:
    value, pos = _scalar(text, pos)
    if isinstance(value, str):
        _check_string(value)
    return pos


def _skip_value(text: str, pos: int) -> int:
    """Skip any JSON value, checking it, without building it: the memory
    an ignored value costs is its nesting depth, not its size (a line of
    tiny objects or arrays must not cost 30 times its length)."""
    stack: list[str] = []  # the closers of the containers we are in
    while True:
        c = text[pos : pos + 1]
        if c == "{" or c == "[":
            closer = "}" if c == "{" else "]"
            pos = _skip_ws(text, pos + 1).end()
            if text[pos : pos + 1] == closer:
                pos += 1
            else:
                stack.append(closer)
                if closer == "}":
                    pos = _skip_key(text, pos)
                continue
        else:
            pos = _skip_scalar(text, pos)
        while True:  # after a value: a comma, or the end of containers
            if not stack:
                return pos
            pos = _skip_ws(text, pos).end()
            c = text[pos : pos + 1]
            if c == ",":
                pos = _skip_ws(text, pos + 1).end()
                if stack[-1] == "}":
                    pos = _skip_key(text, pos)
                break
            if c != stack[-1]:
                raise _malformed(f"expecting ',' or {stack[-1]!r}", pos)
            stack.pop()
            pos += 1


def _parse_object(text: str, pos: int) -> tuple[_Pairs, int]:
    """The object at ``text[pos]`` (a ``{``): its message fields, and the
    position after it. Other keys' values are checked and skipped."""
    pairs = _Pairs()
    pos = _skip_ws(text, pos + 1).end()
    if text[pos : pos + 1] == "}":
        return pairs, pos + 1
    while True:
        key, pos = _key(text, pos)
        if key.lower() in _FIELDS:
            if text[pos : pos + 1] in ("{", "["):
                pairs.append((key, _CONTAINER))
                pos = _skip_value(text, pos)
            else:
                value, pos = _scalar(text, pos)
                pairs.append((key, value))
        else:
            _check_string(key)
            pos = _skip_value(text, pos)
        pos = _skip_ws(text, pos).end()
        c = text[pos : pos + 1]
        if c == "}":
            return pairs, pos + 1
        if c != ",":
            raise _malformed("expecting ',' or '}'", pos)
        pos = _skip_ws(text, pos + 1).end()


def _valid_str(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{what} is not a string")
    try:
        b = value.encode("utf-8")
    except UnicodeEncodeError:
        raise DecodeError(f"{what} has a lone UTF-16 surrogate") from None
    if len(b) > NAME_MAX:
        raise DecodeError(f"{what} is longer than {NAME_MAX} bytes")
    return value


def _byte_value(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise DecodeError(f"{what} must be an integer 0-255")
    return value


def _check_string(value: str) -> None:
    """Every string inside an ignored value must be valid too."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DecodeError("a string has a lone UTF-16 surrogate") from None


def _message_from_pairs(pairs: _Pairs) -> Message:
    meta = 0
    other = ""
    conn_id = ""
    data: bytes | None = None
    level: int | None = None
    for key, value in pairs:
        k = key.lower()
        if k == "meta":
            if value is not None:
                meta = _byte_value("Meta", value)
        elif k == "otherclient":
            if value is not None:
                other = _valid_str("OtherClient", value)
        elif k == "connectionid":
            if value is not None:
                conn_id = _valid_str("ConnectionID", value)
        elif k == "data":
            if value is None:
                data = None
            elif isinstance(value, str):
                raw = value.replace("\r", "").replace("\n", "")
                try:
                    data = binascii.a2b_base64(raw.encode("ascii"), strict_mode=True)
                except (UnicodeEncodeError, binascii.Error) as e:
                    raise DecodeError(f"Data is not padded standard base64: {e}") from None
            else:
                raise DecodeError("Data is neither null nor a string")
        else:  # level
            if value is not None:
                level = _byte_value("Level", value)
    return Message(meta, other, conn_id, data, level)


_JSON_WS = b" \t\r\n"


class Decoder:
    """An incremental decoder: :meth:`feed` it bytes as they arrive; it
    returns the messages they complete. ``max_size`` bounds one encoded
    message (and so the bytes it keeps). ``max_batch`` bounds the messages
    one call returns, and so the work and memory one call costs, whatever
    the input (a line of a million ``{}``); when a call stopped there,
    :attr:`more` is true and ``feed(b"")`` returns the next ones. After a
    :class:`DecodeError` the stream is unusable."""

    def __init__(self, max_size: int, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_size < 16:
            raise ValueError("max_size too small")
        if max_batch < 1:
            raise ValueError("max_batch must be positive")
        self.max_size: int = max_size
        self.max_batch: int = max_batch
        self._buf = bytearray()
        self._more = False

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as messages."""
        return len(self._buf)

    @property
    def more(self) -> bool:
        """True when the last :meth:`feed` stopped at ``max_batch``
        messages and complete ones may be left: call ``feed(b"")``."""
        return self._more

    def feed(self, data: bytes) -> list[Message]:
        """Add ``data``; return the complete messages, in order (at most
        ``max_batch``)."""
        raise NotImplementedError


class JsonDecoder(Decoder):
    """Reads the JSON format: objects separated by JSON whitespace, in
    practice one per line as the broker writes them. Keys are
    case-insensitive, unknown keys ignored, missing keys zero values.

    A line is parsed one object at a time, at most ``max_batch`` per
    call, so a long line of tiny objects costs no more memory than its
    own text."""

    def __init__(self, max_size: int, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        super().__init__(max_size, max_batch)
        self._scanned = 0  # bytes of _buf known to hold no newline
        self._line = ""  # the line being parsed, from _pos on
        self._pos = 0

    @property
    def buffered(self) -> int:
        return len(self._buf) + len(self._line) - self._pos

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf
        buf += data
        out: list[Message] = []
        while True:
            if self._pos < len(self._line):
                self._decode_line(out)
                if len(out) >= self.max_batch:
                    break
            nl = buf.find(b"\n", self._scanned)
            if nl < 0:
                self._scanned = len(buf)
                break
            self._line = self._line_text(bytes(buf[:nl]))
            self._pos = 0
            del buf[: nl + 1]
            self._scanned = 0
        self._more = len(out) >= self.max_batch and (
            self._pos < len(self._line) or self._scanned < len(buf)
        )
        if len(buf) > self.max_size:
            stripped = buf.lstrip(_JSON_WS)
            if (
                not stripped
                or len(stripped) > self.max_size
                or len(buf) - len(stripped) > self.max_size
            ):
                raise DecodeError(f"a JSON message longer than {self.max_size} bytes")
        return out

    @staticmethod
    def _line_text(line: bytes) -> str:
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError(f"not valid UTF-8: {e}") from None

    def _decode_line(self, out: list[Message]) -> None:
        """Decode objects of the current line into ``out`` until the line
        ends or ``out`` holds ``max_batch`` messages."""
        text = self._line
        pos = self._pos
        n = len(text)
        while len(out) < self.max_batch:
            while pos < n and text[pos] in " \t\r\n":
                pos += 1
            if pos >= n:
                break
            if text[pos] != "{":
                raise DecodeError("the top level is not a JSON object")
            begin = pos
            try:
                if n <= _FAST_LINE:
                    value, pos = _JSON_DECODER.raw_decode(text, pos)
                else:
                    value, pos = _parse_object(text, pos)
            except DecodeError:
                raise
            except (ValueError, RecursionError) as e:  # json.JSONDecodeError
                raise DecodeError(f"malformed JSON: {e}") from None
            if pos - begin > self.max_size and len(
                text[begin:pos].encode("utf-8", "surrogatepass")
            ) > self.max_size:
                raise DecodeError(f"a JSON message longer than {self.max_size} bytes")
            out.append(_message_from_pairs(value))
        if pos >= n:
            self._line, pos = "", 0
        self._pos = pos


def decode_json(data: bytes, max_size: int = 1 << 30) -> list[Message]:
    """Decode complete JSON text (every message ended by a newline)."""
    d = JsonDecoder(max_size)
    msgs = _feed_all(d, data)
    if d.buffered and bytes(d._buf).strip(_JSON_WS):
        raise DecodeError("an incomplete JSON message at the end")
    return msgs


def _feed_all(d: Decoder, data: bytes) -> list[Message]:
    msgs = d.feed(data)
    while d.more:
        msgs += d.feed(b"")
    return msgs


# ----------------------------------------------------------------------------
# Binary


def encode_binary(msg: Message) -> bytes:
    """One message in the binary format (see the module docstring)."""
    meta = _check_byte("meta", msg.meta)
    name = _name_bytes("other_client", msg.other_client)
    conn_id = _name_bytes("connection_id", msg.connection_id)
    data = b"" if msg.data is None else bytes(msg.data)
    flags = 0 if msg.data is None else FLAG_HAS_DATA
    level = b""
    if msg.level is not None:
        flags |= FLAG_HAS_LEVEL
        level = bytes((_check_byte("level", msg.level),))
    length = 4 + len(level) + len(name) + len(conn_id) + len(data)
    if length > 0xFFFFFFFF:
        raise ValueError("message too long for the binary format")
    return b"".join(
        (_HEADER.pack(length, meta, flags, len(name), len(conn_id)), level, name, conn_id, data)
    )


class BinaryDecoder(Decoder):
    """Reads the binary format: length-prefixed frames back to back."""

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf
        buf += data
        out: list[Message] = []
        pos = 0
        while len(buf) - pos >= 4 and len(out) < self.max_batch:
            (length,) = struct.unpack_from(">I", buf, pos)
            if length + 4 > self.max_size:
                raise DecodeError(
                    f"a binary frame of {length + 4} bytes is over {self.max_size}"
                )
            if len(buf) - pos < 4 + length:
                break
            out.append(self._frame(memoryview(buf)[pos + 4 : pos + 4 + length]))
            pos += 4 + length
        if pos:
            del buf[:pos]
        self._more = len(out) >= self.max_batch and len(buf) >= 4
        return out

    @staticmethod
    def _frame(frame: memoryview) -> Message:
        try:
            if len(frame) < 4:
                raise DecodeError("a binary frame shorter than its header")
            meta, flags, name_len, id_len = frame[0], frame[1], frame[2], frame[3]
            if flags & _FLAGS_RESERVED:
                raise DecodeError("reserved flag bits set in a binary frame")
            pos = 4
            level: int | None = None
            if flags & FLAG_HAS_LEVEL:
                if len(frame) < 5:
                    raise DecodeError("a binary frame too short for its level")
                level = frame[4]
                pos = 5
            if len(frame) < pos + name_len + id_len:
                raise DecodeError("a binary frame too short for its names")
            try:
                name = bytes(frame[pos : pos + name_len]).decode("utf-8")
                conn_id = bytes(frame[pos + name_len : pos + name_len + id_len]).decode("utf-8")
            except UnicodeDecodeError:
                raise DecodeError("a name in a binary frame is not valid UTF-8") from None
            pos += name_len + id_len
            data: bytes | None = None
            if flags & FLAG_HAS_DATA:
                data = bytes(frame[pos:])
            elif pos != len(frame):
                raise DecodeError("data bytes in a binary frame without HAS_DATA")
            return Message(meta, name, conn_id, data, level)
        finally:
            frame.release()


def decode_binary(data: bytes, max_size: int = 1 << 30) -> list[Message]:
    """Decode complete binary frames."""
    d = BinaryDecoder(max_size)
    msgs = _feed_all(d, data)
    if d.buffered:
        raise DecodeError("an incomplete binary frame at the end")
    return msgs


# ----------------------------------------------------------------------------
# The registry


def json_worst_case(max_message_size: int) -> int:
    """The longest JSON line the broker writes for a message it accepted
    under ``max_message_size`` (from a sender of either format): its data
    is shorter than that, base64 makes it 4/3, both names may be 255
    bytes that each escape to 6 (``<`` as ``\\u003c``), plus the keys,
    punctuation and newline (at most 96 bytes, as common/codec_json.c
    counts them)."""
    return 96 + 2 * 6 * NAME_MAX + 4 * ((max_message_size + 2) // 3)


def binary_worst_case(max_message_size: int) -> int:
    """The longest binary frame the broker writes for a message it
    accepted under ``max_message_size``: the data, both names at 255
    bytes (the broker puts the sender's name where the sender wrote the
    target's), the length, the four header bytes and a level byte."""
    return 4 + 5 + 2 * NAME_MAX + max_message_size


class Codec:
    """A wire format: its ``name``, an encoder, a decoder factory and the
    longest encoding of a legal message (:meth:`max_received_size`)."""

    def __init__(
        self,
        name: str,
        encode: Callable[[Message], bytes],
        decoder: Callable[[int, int], Decoder],
        worst_case: Callable[[int], int],
    ) -> None:
        self.name: str = name
        self._encode = encode
        self._decoder = decoder
        self._worst_case = worst_case

    def max_received_size(self, max_message_size: int) -> int:
        """The most bytes one message from a broker whose
        ``max_message_size`` is this may take in this format: what a
        decoder must accept, and no more."""
        return self._worst_case(max_message_size)

    def encode(self, msg: Message) -> bytes:
        """The bytes of ``msg`` in this format."""
        return self._encode(msg)

    def decoder(self, max_size: int, max_batch: int = DEFAULT_MAX_BATCH) -> Decoder:
        """A new incremental decoder for one stream."""
        return self._decoder(max_size, max_batch)

    def __repr__(self) -> str:
        return f"<Codec {self.name}>"


JSON = Codec("json", encode_json, JsonDecoder, json_worst_case)
BINARY = Codec("binary", encode_binary, BinaryDecoder, binary_worst_case)

#: The formats by name.
FORMATS: dict[str, Codec] = {"json": JSON, "binary": BINARY}


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (``"json"`` or ``"binary"``)."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown wire format {name!r} (json or binary)") from None
