"""Decode a batch of inputs with the Python client's codec, for the Java
client's CodecFuzzTest (a differential test).

    python3 codec_oracle.py INPUTS

INPUTS holds records back to back: a format byte (b"j" or b"b"), the
decoder's max_size as a big-endian u64, the input's length as a
big-endian u32, the input. For each record one result goes to stdout:

    accept N | partial N | reject REASON

then, for accept and partial, N lines "META LEVEL NAME ID DATA", the
strings and data in hex prefixed with "x" (so that empty is "x"), DATA
"-" when absent, LEVEL 0 when the message has none.
"""

import struct
import sys

from mpclient.codec import BINARY, JSON, DecodeError

_WS = b" \t\r\n"


def _hex(b):
    return "x" + b.hex()


def _decode(codec, max_size, data):
    d = codec.decoder(max_size)
    msgs = d.feed(data)
    while d.more:
        msgs += d.feed(b"")
    if codec is JSON:
        partial = bool(bytes(d._buf).strip(_WS))
    else:
        partial = d.buffered > 0
    return msgs, partial


def main():
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    out = []
    pos = 0
    while pos < len(blob):
        fmt = blob[pos : pos + 1]
        max_size, n = struct.unpack_from(">QI", blob, pos + 1)
        pos += 13
        data = blob[pos : pos + n]
        pos += n
        codec = JSON if fmt == b"j" else BINARY
        try:
            msgs, partial = _decode(codec, max_size, data)
        except DecodeError as e:
            out.append("reject " + str(e).replace("\n", " "))
            continue
        out.append(("partial " if partial else "accept ") + str(len(msgs)))
        for m in msgs:
            out.append(
                " ".join(
                    (
                        str(m.meta),
                        str(m.level or 0),
                        _hex(m.other_client.encode("utf-8")),
                        _hex(m.connection_id.encode("utf-8")),
                        "-" if m.data is None else _hex(m.data),
                    )
                )
            )
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))


main()
