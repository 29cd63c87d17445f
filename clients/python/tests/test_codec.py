"""The wire formats, byte for byte (no broker needed): the lines of the
original Go server's capture and the worked examples of doc/protocol.md."""

from __future__ import annotations

import pytest

from mpclient import Message, Meta, check_name, parse_address
from mpclient.codec import (
    BINARY,
    JSON,
    BinaryDecoder,
    DecodeError,
    JsonDecoder,
    decode_binary,
    decode_json,
    encode_binary,
    encode_json,
    go_json_string,
)

# doc/protocol.md: lines of a capture of the original Go server.
TRANSCRIPT = [
    b'{"Meta":9,"OtherClient":"goecho56782","ConnectionID":"","Data":null}\n',
    b'{"Meta":5,"OtherClient":"gocli56782","ConnectionID":"gocli56782:0","Data":"ZWNobw=="}\n',
    b'{"Meta":0,"OtherClient":"gocli56782","ConnectionID":"gocli56782:0","Data":"AAEC/woi"}\n',
    b'{"Meta":2,"OtherClient":"absent56782","ConnectionID":"gocli56782:2","Data":"ZWNobw=="}\n',
    b'{"Meta":4,"OtherClient":"goecho56782","ConnectionID":"","Data":null}\n',
]


def test_json_transcript_byte_exact() -> None:
    msgs = decode_json(b"".join(TRANSCRIPT))
    assert msgs[0] == Message(Meta.AUTH_OK, "goecho56782")
    assert msgs[1] == Message(Meta.CONN_SYN, "gocli56782", "gocli56782:0", b"echo")
    assert msgs[2].data == bytes([0x00, 0x01, 0x02, 0xFF, 0x0A, 0x22])
    assert msgs[3].meta == Meta.NO_SUCH_CONNECTION and msgs[3].other_client == "absent56782"
    assert msgs[4] == Message(Meta.CLIENT_CLOSED, "goecho56782")
    assert [encode_json(m) for m in msgs] == TRANSCRIPT


def test_json_auth_and_level() -> None:
    assert encode_json(Message(Meta.AUTH, "alice", "", b"pw", level=2)) == (
        b'{"Meta":8,"OtherClient":"alice","ConnectionID":"","Data":"cHc=","Level":2}\n'
    )
    assert decode_json(
        b'{"Meta":8,"OtherClient":"alice","ConnectionID":"","Data":"cHc=","Level":2}\n'
    ) == [Message(Meta.AUTH, "alice", "", b"pw", 2)]


def test_json_go_escaping() -> None:
    assert go_json_string('a<b>&c"d\\e') == '"a\\u003cb\\u003e\\u0026c\\"d\\\\e"'
    assert go_json_string("\n\r\t\x08\x0c\x1f") == '"\\n\\r\\t\\u0008\\u000c\\u001f"'
    assert go_json_string("\u2028\u2029") == '"\\u2028\\u2029"'
    # DEL, '/', and valid non-ASCII UTF-8 stay as they are.
    assert go_json_string("\x7f/é€😀") == '"\x7f/é€😀"'
    # A byte that was not valid UTF-8 (kept by surrogateescape) is U+FFFD.
    assert go_json_string(b"a\xffb".decode("utf-8", "surrogateescape")) == '"a\\ufffdb"'
    line = encode_json(Message(Meta.DATA, "x<y", "x<y:1", b""))
    assert line == b'{"Meta":0,"OtherClient":"x\\u003cy","ConnectionID":"x\\u003cy:1","Data":""}\n'
    # Reading accepts both forms.
    assert decode_json(line)[0].other_client == "x<y"
    assert decode_json(b'{"OtherClient":"x<y"}\n')[0].other_client == "x<y"


def test_json_null_empty_and_missing() -> None:
    assert encode_json(Message(0, "a", "a:0", None)).endswith(b'"Data":null}\n')
    assert encode_json(Message(0, "a", "a:0", b"")).endswith(b'"Data":""}\n')
    assert decode_json(b'{"Data":null}\n{"Data":""}\n{}\n') == [
        Message(0, "", "", None),
        Message(0, "", "", b""),
        Message(0, "", "", None),
    ]


# Lines up to 16 KiB are parsed by the json module, longer ones field by
# field (codec._FAST_LINE): the same rules either way. PAD makes a line long.
PAD = [b"", b" " * 20000]


@pytest.mark.parametrize("pad", PAD, ids=["short", "long"])
def test_json_reading_rules(pad: bytes) -> None:
    # Case-insensitive keys, unknown keys ignored (nested too), last
    # duplicate wins, any whitespace between objects, several per line.
    text = pad + (
        b' \t{"meta":3,"META":6,"otherclient":"bob","x":{"y":[1,{"z":null}]},'
        b'"connectionid":"bob:1","data":"eA==","M\\u0065ta":7}{"Meta":1}\r\n\n'
    )
    assert decode_json(text) == [Message(7, "bob", "bob:1", b"x"), Message(1)]
    # null leaves a string alone; "\r\n" inside base64 is ignored.
    assert decode_json(pad + b'{"OtherClient":null,"Data":"eH\\r\\nk="}\n') == [
        Message(0, "", "", b"xy")
    ]


@pytest.mark.parametrize(
    "text",
    [
        b"[1]\n",
        b"5\n",
        b'"x"\n',
        b'{"Meta":256}\n',
        b'{"Meta":-1}\n',
        b'{"Meta":1.5}\n',
        b'{"Meta":"5"}\n',
        b'{"Meta":true}\n',
        b'{"Data":"YQ"}\n',
        b'{"Data":"YQ=="x}\n',
        b'{"Data":"Y-Q="}\n',
        b'{"Data":5}\n',
        b'{"OtherClient":5}\n',
        b'{"OtherClient":"' + b"a" * 256 + b'"}\n',
        b'{"OtherClient":"\\ud83d"}\n',
        b'{"x":"\xff"}\n',
        b'{"x":NaN}\n',
        b'{"Meta":1\n',
        b'{"x":[1,]}\n',
        b'{"x":[1 2]}\n',
        b'{"x":{"a" 1}}\n',
        b'{"x":{1:2}}\n',
        b'{"x":[{"y":"\\udc00"}]}\n',
        b'{"x":[[[]]}\n',
        b'{"x":tru}\n',
        b'{"Meta":[0]}\n',
        b'{"Data":{"a":"b"}}\n',
        b'{"x":"a\tb"}\n',
        b'{"a":1,}\n',
        b'{"a":1 "b":2}\n',
        b"{}x\n",
    ],
)
@pytest.mark.parametrize("pad", PAD, ids=["short", "long"])
def test_json_rejects(text: bytes, pad: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_json(pad + text)


@pytest.mark.parametrize("pad", PAD, ids=["short", "long"])
def test_json_ignored_values_of_every_shape(pad: bytes) -> None:
    text = pad + (
        b'{"a":[],"b":{},"c":[1,-2.5e3,"s",true,false,null,[{}],{"d":[[]]}],'
        b'"e" : { "f" : [ 1 , { } ] } ,"Meta":4,"g":"\\u003c"}\n'
    )
    assert decode_json(text) == [Message(4)]


def test_json_long_hostile_lines_cost_their_length() -> None:
    """A long line of tiny values (objects, arrays, keys, a deep nest) is
    checked without building it: a few times its length in memory, where
    building it would cost ~30 times."""
    import tracemalloc

    n = 30000
    lines = [
        b"{" + b'"x":{},' * n + b'"Meta":1}\n',
        b'{"x":[' + b"[]," * n + b'0],"Meta":1}\n',
        b'{"x":[' + b'"ab",' * n + b'0],"Meta":1}\n',
        b'{"x":' + b"[" * n + b"]" * n + b',"Meta":1}\n',
    ]
    for line in lines:
        tracemalloc.start()
        try:
            assert decode_json(line) == [Message(1)]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 6 * len(line), (line[:12], peak, len(line))


def test_json_many_objects_a_batch_at_a_time() -> None:
    d = JsonDecoder(1 << 20, max_batch=100)
    out = d.feed(b"{}" * 250 + b"\n")
    assert len(out) == 100 and d.more
    assert len(d.feed(b"")) == 100 and d.more
    out = d.feed(b'{"Meta":3}\n')  # the rest of the line first
    assert len(out) == 51 and out[-1] == Message(3) and not d.more


def test_json_size_limit() -> None:
    d = JsonDecoder(64)
    d.feed(b'{"Meta":0,"OtherClient":"' + b"a" * 30)
    with pytest.raises(DecodeError):
        d.feed(b"a" * 40)
    # Whitespace between messages does not count...
    d = JsonDecoder(64)
    assert d.feed(b" " * 60 + b"\n" + b'{"Meta":1}\n') == [Message(1)]
    # ... but more of it in a row than the limit is an error too.
    with pytest.raises(DecodeError):
        JsonDecoder(64).feed(b" " * 65)


def test_binary_worked_examples() -> None:
    syn = Message(Meta.CONN_SYN, "bob", "alice:0", b"echo")
    wire = bytes.fromhex("00000012 05 01 03 07 626f62 616c6963653a30 6563686f")
    assert encode_binary(syn) == wire
    assert decode_binary(wire) == [syn]
    auth = Message(Meta.AUTH, "alice", "", b"pw", level=2)
    wire = bytes.fromhex("0000000c 08 03 05 00 02 616c696365 7077")
    assert encode_binary(auth) == wire
    assert decode_binary(wire) == [auth]
    ok = bytes.fromhex("00000009 09 00 05 00 616c696365")
    assert decode_binary(ok) == [Message(Meta.AUTH_OK, "alice")]
    assert encode_binary(Message(Meta.AUTH_OK, "alice")) == ok


def test_binary_null_and_empty() -> None:
    assert encode_binary(Message(0, "a", "", None))[5] == 0
    assert encode_binary(Message(0, "a", "", b""))[5] == 1
    assert decode_binary(encode_binary(Message(0, "a", "", b""))) == [Message(0, "a", "", b"")]
    assert decode_binary(encode_binary(Message(0, "a", "", None))) == [Message(0, "a", "", None)]


@pytest.mark.parametrize(
    "hexframe",
    [
        "00000004 00 04 00 00",  # a reserved flag bit
        "00000005 00 00 00 00 41",  # data bytes without HAS_DATA
        "00000005 00 00 05 00 41",  # names longer than the frame
        "00000003 00 00 00",  # LENGTH below 4
        "00000004 00 02 00 00",  # HAS_LEVEL without the level byte
        "00000005 00 00 01 00 ff",  # a name that is not UTF-8
    ],
)
def test_binary_rejects(hexframe: str) -> None:
    with pytest.raises(DecodeError):
        decode_binary(bytes.fromhex(hexframe))


def test_binary_size_limit_seen_from_the_length() -> None:
    d = BinaryDecoder(1024)
    with pytest.raises(DecodeError):
        d.feed(bytes.fromhex("000003fd"))  # 1021 + 4 > 1024, before any body


@pytest.mark.parametrize("codec", [JSON, BINARY], ids=["json", "binary"])
def test_decoders_are_incremental(codec) -> None:  # type: ignore[no-untyped-def]
    msgs = [
        Message(Meta.CONN_SYN, "bob", "alice:0", b"echo"),
        Message(Meta.DATA, "bob", "alice:0", bytes(range(256)) * 10),
        Message(Meta.DATA, "bob", "alice:0", b""),
        Message(Meta.CONN_CLOSED, "bob", "alice:0"),
    ]
    wire = b"".join(codec.encode(m) for m in msgs)
    d = codec.decoder(1 << 16)
    out: list[Message] = []
    for i in range(len(wire)):
        out += d.feed(wire[i : i + 1])
    assert out == msgs
    assert d.buffered == 0
    assert codec.decoder(1 << 16).feed(wire) == msgs


def test_encoders_check_fields() -> None:
    for encode in (encode_json, encode_binary):
        with pytest.raises(ValueError):
            encode(Message(256))
        with pytest.raises(ValueError):
            encode(Message(0, "a" * 256))


def test_addresses() -> None:
    a = parse_address("tcp:127.0.0.1:7330")
    assert (a.scheme, a.host, a.port) == ("tcp", "127.0.0.1", 7330)
    a = parse_address("tls:[::1]:7331")
    assert (a.scheme, a.host, a.port, str(a)) == ("tls", "::1", 7331, "tls:[::1]:7331")
    assert parse_address("unix:/run/mp.sock").path == "/run/mp.sock"
    for bad in ["", "tcp:", "tcp:host", "tcp:host:0", "tcp:host:x", "udp:h:1", "unix:", "tcp::1:2"]:
        with pytest.raises(ValueError):
            parse_address(bad)


def test_name_rules() -> None:
    assert check_name("alice") == "alice"
    assert check_name("é" * 127) == "é" * 127
    for bad in ["", "a:b", "a\nb", "a\x7f", "é" * 128]:
        with pytest.raises(ValueError):
            check_name(bad)
