#!/usr/bin/python3
"""mp_pb_peer.py - an mpbroker peer written only from proto/mp.proto and
doc/protocol.md: the protobuf wire format, with Python's protobuf package
and the mp_pb2 module that `protoc --python_out=DIR mp.proto` generates.
It shares no code with the broker, libmpclient or the other clients, so
that it checks the format as a stranger would implement it.

    mp_pb_peer.py [options] serve PROTO
        log in, accept every connection for PROTO (refuse others with
        UnknownProtocol), print each message and send it back with
        --prefix in front; with --once, exit 0 when the first connection
        that arrived has closed (or its peer left)
    mp_pb_peer.py [options] send PEER PROTO [MSG...]
        log in, open a connection to PEER for PROTO, send each MSG (an
        empty one is an empty message), print the replies until as many
        as --replies (default: one per MSG) came, close it and exit 0

Options: -a tcp:HOST:PORT | unix:PATH (default tcp:127.0.0.1:7330),
-n NAME, -s SECRET (default $MP_SECRET), --pb2-dir DIR (where mp_pb2.py
is; default $MP_PB2_DIR), --timeout SECONDS (the whole run, default 30),
--prefix TEXT (serve; default "echo: ").

Output (stdout, one line each, the data as UTF-8 between brackets, or
"null" when absent): "logged in as NAME", "opened ID from PEER for PROTO",
"refused ID from PEER for PROTO", "got [DATA] from PEER on ID",
"closed ID", "PEER left", "connected ID to PEER", "reply [DATA] from PEER".
Errors go to stderr as "mp_pb_peer: ...". Exit status: 0 done, 1 the
broker or a peer did something unexpected (or the time ran out),
2 usage, 3 the login was refused, 4 the connection was refused.
"""

import argparse
import os
import signal
import socket
import sys
import time


class Failure(Exception):
    """An error to report on stderr, with the exit status to end with."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def load_mp_pb2(pb2_dir):
    if not pb2_dir:
        raise Failure("where is mp_pb2.py? give --pb2-dir DIR or set "
                      "MP_PB2_DIR (generate it with: protoc "
                      "--python_out=DIR -I DIR_OF_PROTO mp.proto)", 2)
    sys.path.insert(0, pb2_dir)
    try:
        import mp_pb2  # noqa: generated at run time
    except ImportError as e:
        raise Failure("cannot import mp_pb2 from %s: %s (it needs the "
                      "protobuf package: Debian python3-protobuf)"
                      % (pb2_dir, e), 2)
    return mp_pb2


def varint(n):
    """protobuf's base-128 varint, least significant group first."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def parse_varint(buf):
    """(value, bytes used) of the varint at the start of buf, or None
    when buf ends inside it."""
    value = 0
    for i, byte in enumerate(buf):
        if i >= 10:
            raise Failure("a length varint longer than 10 bytes")
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    return None


class Stream:
    """Delimited protobuf messages on a socket, with one deadline."""

    MAX_LENGTH = 64 << 20

    def __init__(self, address, deadline, mp_pb2):
        self.deadline = deadline
        self.pb = mp_pb2
        self.buf = b""
        if address.startswith("unix:"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = address[5:]
        elif address.startswith("tcp:"):
            host, _, port = address[4:].rpartition(":")
            host = host.strip("[]")
            self.sock = socket.socket(
                socket.AF_INET6 if ":" in host else socket.AF_INET,
                socket.SOCK_STREAM)
            target = (host, int(port))
        else:
            raise Failure("address %r: want tcp:HOST:PORT or unix:PATH"
                          % address, 2)
        self.sock.settimeout(self.left())
        try:
            self.sock.connect(target)
        except OSError as e:
            raise Failure("cannot connect to %s: %s" % (address, e))

    def left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Failure("time limit reached")
        return left

    def send(self, meta, other_client="", connection_id="", data=None,
             level=0):
        msg = self.pb.Message(meta=meta, other_client=other_client,
                              connection_id=connection_id, level=level)
        if data is not None:
            msg.data = data
        body = msg.SerializeToString()
        self.sock.settimeout(self.left())
        self.sock.sendall(varint(len(body)) + body)

    def recv(self):
        """The next message; None at the end of the stream."""
        while True:
            head = parse_varint(self.buf)
            if head is not None:
                length, used = head
                if length > self.MAX_LENGTH:
                    raise Failure("the broker sent a length of %d" % length)
                if len(self.buf) >= used + length:
                    msg = self.pb.Message()
                    msg.ParseFromString(self.buf[used:used + length])
                    self.buf = self.buf[used + length:]
                    return msg
            self.sock.settimeout(self.left())
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise Failure("time limit reached waiting for the broker")
            except OSError as e:
                raise Failure("reading from the broker: %s" % e)
            if not chunk:
                if self.buf:
                    raise Failure("the stream ended inside a message")
                return None
            self.buf += chunk

    def close(self):
        self.sock.close()


def shown(msg):
    """The data of msg for a line of output: [UTF-8] or null."""
    if not msg.HasField("data"):
        return "null"
    return "[" + msg.data.decode("utf-8", "backslashreplace") + "]"


def meta_name(pb, meta):
    try:
        return pb.Meta.Name(meta)
    except ValueError:
        return str(meta)


def say(line):
    sys.stdout.buffer.write(line.encode("utf-8", "surrogateescape") + b"\n")
    sys.stdout.flush()


def login(stream, name, secret):
    pb = stream.pb
    stream.send(pb.META_AUTH, other_client=name, data=secret)
    reply = stream.recv()
    if reply is None:
        raise Failure("the broker closed the stream before answering Auth", 3)
    if reply.meta == pb.META_AUTH_FAILURE:
        raise Failure("login as %s refused: %s"
                      % (name, reply.data.decode("utf-8", "replace")), 3)
    if reply.meta != pb.META_AUTH_OK:
        raise Failure("Auth answered with %s" % meta_name(pb, reply.meta), 3)
    say("logged in as %s" % reply.other_client)


def serve(stream, proto, prefix, once):
    pb = stream.pb
    first = None  # the connection --once waits for
    while True:
        msg = stream.recv()
        if msg is None:
            raise Failure("the broker closed the stream")
        peer, cid = msg.other_client, msg.connection_id
        if msg.meta == pb.META_CONN_SYN:
            if msg.data == proto.encode("utf-8"):
                stream.send(pb.META_CONN_ACK, peer, cid)
                say("opened %s from %s for %s" % (cid, peer, proto))
                first = first or (cid, peer)
            else:
                stream.send(pb.META_UNKNOWN_PROTOCOL, peer, cid)
                say("refused %s from %s for %s"
                    % (cid, peer, msg.data.decode("utf-8", "replace")))
        elif msg.meta == pb.META_DATA:
            say("got %s from %s on %s" % (shown(msg), peer, cid))
            stream.send(pb.META_DATA, peer, cid,
                        prefix.encode("utf-8") + msg.data)
        elif msg.meta in (pb.META_CONN_CLOSED, pb.META_NO_SUCH_CONNECTION):
            say("closed %s" % cid)
            if once and first and first[0] == cid:
                return
        elif msg.meta == pb.META_CLIENT_CLOSED:
            say("%s left" % peer)
            if once and first and first[1] == peer:
                return
        else:
            raise Failure("unexpected %s from %s on %r: %s"
                          % (meta_name(pb, msg.meta), peer, cid, shown(msg)))


def send(stream, name, peer, proto, messages, replies):
    pb = stream.pb
    cid = "%s:1" % name
    stream.send(pb.META_CONN_SYN, peer, cid, proto.encode("utf-8"))
    answer = stream.recv()
    if answer is None:
        raise Failure("the broker closed the stream")
    if answer.meta == pb.META_UNKNOWN_PROTOCOL:
        raise Failure("%s has no handler for %s" % (peer, proto), 4)
    if answer.meta == pb.META_NO_SUCH_CONNECTION:
        raise Failure("no such client: %s" % peer, 4)
    if answer.meta != pb.META_CONN_ACK or answer.connection_id != cid:
        raise Failure("ConnSyn answered with %s on %r"
                      % (meta_name(pb, answer.meta), answer.connection_id))
    say("connected %s to %s" % (cid, peer))
    for text in messages:
        stream.send(pb.META_DATA, peer, cid, os.fsencode(text))
    got = 0
    while got < replies:
        msg = stream.recv()
        if msg is None:
            raise Failure("the broker closed the stream after %d of %d "
                          "replies" % (got, replies))
        if msg.meta == pb.META_DATA and msg.connection_id == cid:
            say("reply %s from %s" % (shown(msg), msg.other_client))
            got += 1
        else:
            raise Failure("after %d of %d replies: %s from %s on %r"
                          % (got, replies, meta_name(pb, msg.meta),
                             msg.other_client, msg.connection_id))
    stream.send(pb.META_CONN_CLOSED, peer, cid)
    say("closed %s" % cid)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="mp_pb_peer.py")
    p.add_argument("-a", "--address", default="tcp:127.0.0.1:7330")
    p.add_argument("-n", "--name", required=True)
    p.add_argument("-s", "--secret", default=os.environ.get("MP_SECRET"))
    p.add_argument("--pb2-dir", default=os.environ.get("MP_PB2_DIR"))
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--prefix", default="echo: ")
    p.add_argument("--once", action="store_true")
    p.add_argument("--replies", type=int)
    p.add_argument("mode", choices=("serve", "send"))
    p.add_argument("operands", nargs="*")
    a = p.parse_args(argv)
    if a.mode == "serve" and len(a.operands) != 1:
        p.error("serve takes one PROTO")
    if a.mode == "send" and len(a.operands) < 2:
        p.error("send takes PEER PROTO [MSG...]")
    if a.secret is None:
        p.error("no secret: give -s SECRET or set MP_SECRET")
    return a


def main(argv):
    a = parse_args(argv)
    # SIGTERM ends a server as an interrupt does: exit 0, stream closed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        pb = load_mp_pb2(a.pb2_dir)
        stream = Stream(a.address, time.monotonic() + a.timeout, pb)
        try:
            login(stream, a.name, os.fsencode(a.secret))
            if a.mode == "serve":
                serve(stream, a.operands[0], a.prefix, a.once)
            else:
                msgs = a.operands[2:]
                replies = len(msgs) if a.replies is None else a.replies
                send(stream, a.name, a.operands[0], a.operands[1], msgs,
                     replies)
        finally:
            stream.close()
    except Failure as e:
        sys.stderr.write("mp_pb_peer: %s\n" % e)
        return e.status
    except OSError as e:
        sys.stderr.write("mp_pb_peer: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
