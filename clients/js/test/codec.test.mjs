// Unit tests of both wire formats, after clients/python/tests/test_codec.py
// and the capture of the original Go server (/work/shared/wire,
// doc/protocol.md "JSON").
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  base64Decode,
  base64Encode,
  BINARY_CODEC,
  BinaryDecoder,
  checkName,
  DecodeError,
  decodeBinary,
  decodeJson,
  encodeBinary,
  encodeJson,
  goJsonString,
  JSON_CODEC,
  JsonDecoder,
  message,
  Meta,
  parseAddress,
  parseCredit,
  parseSettings,
} from "../dist/index.js";

const enc = new TextEncoder();
const bytes = (s) => enc.encode(s);
const hex = (h) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ""), "hex"));
const msg = (meta, other = "", id = "", data = null, level = null) =>
  message(meta, other, id, typeof data === "string" ? bytes(data) : data, level);

// Lines of the original Go server, byte for byte.
const TRANSCRIPT = [
  '{"Meta":9,"OtherClient":"goecho56782","ConnectionID":"","Data":null}\n',
  '{"Meta":5,"OtherClient":"gocli56782","ConnectionID":"gocli56782:0","Data":"ZWNobw=="}\n',
  '{"Meta":0,"OtherClient":"gocli56782","ConnectionID":"gocli56782:0","Data":"AAEC/woi"}\n',
  '{"Meta":2,"OtherClient":"absent56782","ConnectionID":"gocli56782:2","Data":"ZWNobw=="}\n',
  '{"Meta":4,"OtherClient":"goecho56782","ConnectionID":"","Data":null}\n',
];

test("json: the Go transcript decodes and re-encodes byte for byte", () => {
  const msgs = decodeJson(bytes(TRANSCRIPT.join("")));
  assert.equal(msgs.length, 5);
  assert.deepEqual(msgs[1], msg(Meta.CONN_SYN, "gocli56782", "gocli56782:0", "echo"));
  assert.deepEqual(msgs[2].data, Uint8Array.from([0, 1, 2, 0xff, 0x0a, 0x22]));
  msgs.forEach((m, i) => assert.equal(Buffer.from(encodeJson(m)).toString(), TRANSCRIPT[i]));
});

test("json: every line of the capture file round-trips", async (t) => {
  const fs = await import("node:fs");
  const path = "/work/shared/wire/go-json-transcript.txt";
  if (!fs.existsSync(path)) {
    t.skip("no capture file");
    return;
  }
  let n = 0;
  for (const line of fs.readFileSync(path, "utf8").split("\n")) {
    const m = /^c\d[<>] (\{.*\})$/.exec(line);
    if (!m) continue;
    const [decoded] = decodeJson(bytes(m[1] + "\n"));
    assert.equal(Buffer.from(encodeJson(decoded)).toString(), m[1] + "\n");
    n++;
  }
  assert.ok(n > 10, `only ${n} lines`);
});

test("json: Auth with a level", () => {
  const line = '{"Meta":8,"OtherClient":"alice","ConnectionID":"","Data":"cHc=","Level":2}\n';
  assert.equal(Buffer.from(encodeJson(msg(Meta.AUTH, "alice", "", "pw", 2))).toString(), line);
  assert.deepEqual(decodeJson(bytes(line)), [msg(Meta.AUTH, "alice", "", "pw", 2)]);
});

test("json: Go's escaping", () => {
  assert.equal(goJsonString('a"b\\c\n\r\t'), '"a\\"b\\\\c\\n\\r\\t"');
  assert.equal(goJsonString("<>&\u2028\u2029"), '"\\u003c\\u003e\\u0026\\u2028\\u2029"');
  assert.equal(goJsonString("\x00\x08\x1f\x7f/é"), '"\\u0000\\u0008\\u001f\x7f/é"');
  assert.equal(goJsonString("a\ud800b"), '"a\\ufffdb"');
  assert.equal(goJsonString("😀"), '"😀"');
  const line = Buffer.from(encodeJson(msg(Meta.DATA, "x<y", "x<y:1", ""))).toString();
  assert.equal(line, '{"Meta":0,"OtherClient":"x\\u003cy","ConnectionID":"x\\u003cy:1","Data":""}\n');
  assert.equal(decodeJson(bytes(line))[0].otherClient, "x<y");
  assert.equal(decodeJson(bytes('{"OtherClient":"x<y"}\n'))[0].otherClient, "x<y");
});

test("json: null, empty and missing", () => {
  assert.ok(Buffer.from(encodeJson(msg(0, "a", "a:0", null))).toString().endsWith('"Data":null}\n'));
  assert.ok(Buffer.from(encodeJson(msg(0, "a", "a:0", ""))).toString().endsWith('"Data":""}\n'));
  assert.deepEqual(decodeJson(bytes('{"Data":null}\n{"Data":""}\n{}\n')), [
    msg(0),
    msg(0, "", "", new Uint8Array(0)),
    msg(0),
  ]);
});

for (const pad of ["", " ".repeat(20000)]) {
  test(`json: reading rules (padding ${pad.length})`, () => {
    const text =
      pad +
      ' \t{"meta":3,"META":6,"otherclient":"bob","x":{"y":[1,{"z":null}]},' +
      '"connectionid":"bob:1","data":"eA==","M\\u0065ta":7}{"Meta":1}\r\n\n';
    assert.deepEqual(decodeJson(bytes(text)), [msg(7, "bob", "bob:1", "x"), msg(1)]);
    assert.deepEqual(decodeJson(bytes(pad + '{"OtherClient":null,"Data":"eH\\r\\nk="}\n')), [
      msg(0, "", "", "xy"),
    ]);
  });
}

test("json: duplicate keys: the last one wins, whatever the case", () => {
  assert.equal(decodeJson(bytes('{"Meta":1,"meta":2,"Meta":3}\n'))[0].meta, 3);
});

const JSON_REJECTS = [
  "[1]\n",
  "5\n",
  '"x"\n',
  '{"Meta":256}\n',
  '{"Meta":-1}\n',
  '{"Meta":1.5}\n',
  '{"Meta":1e2}\n',
  '{"Meta":"5"}\n',
  '{"Meta":true}\n',
  '{"Data":"YQ"}\n',
  '{"Data":"YQ=="x}\n',
  '{"Data":"Y-Q="}\n',
  '{"Data":"YQ==YQ=="}\n',
  '{"Data":5}\n',
  '{"OtherClient":5}\n',
  '{"OtherClient":"' + "a".repeat(256) + '"}\n',
  '{"OtherClient":"\\ud83d"}\n',
  '{"x":NaN}\n',
  '{"Meta":1\n',
  '{"x":[1,]}\n',
  '{"x":[1 2]}\n',
  '{"x":{"a" 1}}\n',
  '{"x":{1:2}}\n',
  '{"x":[{"y":"\\udc00"}]}\n',
  '{"x":[[[]]}\n',
  '{"x":tru}\n',
  '{"Meta":[0]}\n',
  '{"Data":{"a":"b"}}\n',
  '{"x":"a\tb"}\n',
  '{"a":1,}\n',
  '{"a":1 "b":2}\n',
  "{}x\n",
  '{"x":' + "[".repeat(10001) + "]".repeat(10001) + "}\n",
];

for (const pad of ["", " ".repeat(20000)]) {
  test(`json: malformed input is a DecodeError (padding ${pad.length})`, () => {
    for (const text of JSON_REJECTS) {
      assert.throws(() => decodeJson(bytes(pad + text)), DecodeError, JSON.stringify(text));
    }
    // Invalid UTF-8 anywhere in the line.
    assert.throws(() => decodeJson(Uint8Array.from([...bytes('{"x":"'), 0xff, ...bytes('"}\n')])), DecodeError);
  });
}

test("json: errors say what is wrong", () => {
  assert.throws(() => decodeJson(bytes('{"Meta":300}\n')), /Meta must be an integer 0-255/);
  assert.throws(() => decodeJson(bytes('{"Data":"YQ"}\n')), /not padded standard base64/);
  assert.throws(() => decodeJson(bytes("[1]\n")), /top level is not a JSON object/);
});

test("json: ignored values of every shape", () => {
  const text =
    '{"a":[],"b":{},"c":[1,-2.5e3,"s",true,false,null,[{}],{"d":[[]]}],' +
    '"e" : { "f" : [ 1 , { } ] } ,"Meta":4,"g":"\\u003c"}\n';
  assert.deepEqual(decodeJson(bytes(text)), [msg(4)]);
});

test("json: size limit", () => {
  const d = new JsonDecoder(64);
  d.feed(bytes('{"Meta":0,"OtherClient":"' + "a".repeat(30)));
  assert.throws(() => d.feed(bytes("a".repeat(40))), /longer than 64 bytes/);
  const d2 = new JsonDecoder(64);
  assert.deepEqual(d2.feed(bytes(" ".repeat(60) + "\n" + '{"Meta":1}\n')), [msg(1)]);
  assert.throws(() => new JsonDecoder(64).feed(bytes(" ".repeat(65))), DecodeError);
  assert.throws(() => new JsonDecoder(64).feed(bytes('{"Data":"' + "QUFB".repeat(20) + '"}\n')), DecodeError);
});

test("binary: the worked examples", () => {
  const syn = msg(Meta.CONN_SYN, "bob", "alice:0", "echo");
  let wire = hex("00000012 05 01 03 07 626f62 616c6963653a30 6563686f");
  assert.deepEqual(encodeBinary(syn), wire);
  assert.deepEqual(decodeBinary(wire), [syn]);
  const auth = msg(Meta.AUTH, "alice", "", "pw", 2);
  wire = hex("0000000c 08 03 05 00 02 616c696365 7077");
  assert.deepEqual(encodeBinary(auth), wire);
  assert.deepEqual(decodeBinary(wire), [auth]);
  const ok = hex("00000009 09 00 05 00 616c696365");
  assert.deepEqual(decodeBinary(ok), [msg(Meta.AUTH_OK, "alice")]);
  assert.deepEqual(encodeBinary(msg(Meta.AUTH_OK, "alice")), ok);
});

test("binary: null and empty data differ", () => {
  assert.equal(encodeBinary(msg(0, "a", "", null))[5], 0);
  assert.equal(encodeBinary(msg(0, "a", "", ""))[5], 1);
  assert.deepEqual(decodeBinary(encodeBinary(msg(0, "a", "", ""))), [msg(0, "a", "", new Uint8Array(0))]);
  assert.deepEqual(decodeBinary(encodeBinary(msg(0, "a", "", null))), [msg(0, "a", "", null)]);
});

test("binary: malformed frames are DecodeErrors that say why", () => {
  const cases = [
    ["00000004 00 04 00 00", /reserved flag/],
    ["00000005 00 00 00 00 41", /without HAS_DATA/],
    ["00000005 00 00 05 00 41", /too short for its names/],
    ["00000003 00 00 00", /shorter than its header/],
    ["00000004 00 02 00 00", /too short for its level/],
    ["00000005 00 00 01 00 ff", /not valid UTF-8/],
    ["00000005 00 00 00", /incomplete binary frame/],
  ];
  for (const [h, why] of cases) {
    assert.throws(() => decodeBinary(hex(h)), (e) => e instanceof DecodeError && why.test(e.message), h);
  }
});

test("binary: the size limit is seen from the length", () => {
  assert.throws(() => new BinaryDecoder(1024).feed(hex("000003fd")), /over 1024/);
});

for (const codec of [JSON_CODEC, BINARY_CODEC]) {
  test(`${codec.name}: decoders are incremental`, () => {
    const all = new Uint8Array(2560);
    for (let i = 0; i < all.length; i++) all[i] = i & 255;
    const msgs = [
      msg(Meta.CONN_SYN, "bob", "alice:0", "echo"),
      msg(Meta.DATA, "bob", "alice:0", all),
      msg(Meta.DATA, "bob", "alice:0", ""),
      msg(Meta.CONN_CLOSED, "bob", "alice:0"),
      msg(Meta.DATA, "bøb", "bøb:1", "é😀"),
    ];
    const wire = Buffer.concat(msgs.map((m) => codec.encode(m)));
    const d = codec.decoder(1 << 16);
    const out = [];
    for (let i = 0; i < wire.length; i++) out.push(...d.feed(wire.subarray(i, i + 1)));
    assert.deepEqual(out, msgs);
    assert.equal(d.buffered, 0);
    assert.deepEqual(codec.decoder(1 << 16).feed(wire), msgs);
  });

  test(`${codec.name}: random round trips`, () => {
    for (let n = 0; n < 200; n++) {
      const len = Math.floor(Math.random() * 300);
      const data = n % 7 === 0 ? null : Uint8Array.from({ length: len }, () => Math.floor(Math.random() * 256));
      const m = msg(Math.floor(Math.random() * 256), "p" + n, `p${n}:${n.toString(16)}`, data);
      assert.deepEqual(codec.decoder(1 << 20).feed(codec.encode(m)), [m]);
    }
  });
}

test("encoders check the fields", () => {
  for (const encode of [encodeJson, encodeBinary]) {
    assert.throws(() => encode(msg(256)), RangeError);
    assert.throws(() => encode(msg(-1)), RangeError);
    assert.throws(() => encode(msg(0, "a".repeat(256))), RangeError);
    assert.throws(() => encode(msg(0, "a", "b".repeat(256))), RangeError);
  }
});

test("base64 as Go's StdEncoding", () => {
  for (let n = 0; n < 40; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
    const s = base64Encode(b);
    assert.equal(s, Buffer.from(b).toString("base64"));
    assert.deepEqual(base64Decode(s), b);
  }
  // Unused low bits need not be zero, as in Go.
  assert.deepEqual(base64Decode("YR=="), bytes("a"));
  for (const bad of ["YQ", "Y===", "=YQ=", "YQ=a", "Y-Q=", "Y_Q=", "YQ==YQ=="]) {
    assert.throws(() => base64Decode(bad), DecodeError, bad);
  }
});

test("addresses", () => {
  let a = parseAddress("tcp:127.0.0.1:7330");
  assert.deepEqual([a.scheme, a.host, a.port], ["tcp", "127.0.0.1", 7330]);
  a = parseAddress("tls:[::1]:7331");
  assert.deepEqual([a.scheme, a.host, a.port], ["tls", "::1", 7331]);
  assert.equal(parseAddress("unix:/run/mp.sock").path, "/run/mp.sock");
  a = parseAddress("ws://127.0.0.1:7380/mp");
  assert.deepEqual([a.scheme, a.host, a.port, a.path, a.url], ["ws", "127.0.0.1", 7380, "/mp", "ws://127.0.0.1:7380/mp"]);
  assert.equal(parseAddress("wss://broker.example/mp").port, 443);
  for (const bad of ["", "tcp:", "tcp:host", "tcp:host:0", "tcp:host:x", "udp:h:1", "unix:", "tcp::1:2", "ws://"]) {
    assert.throws(() => parseAddress(bad), RangeError, bad);
  }
});

test("name rules", () => {
  assert.equal(checkName("alice"), "alice");
  assert.equal(checkName("é".repeat(127)), "é".repeat(127));
  for (const bad of ["", "a:b", "a\nb", "a\x7f", "é".repeat(128), "a\ud800"]) {
    assert.throws(() => checkName(bad), RangeError, JSON.stringify(bad));
  }
});

test("AuthOk settings and Credit grants", () => {
  assert.deepEqual(parseSettings(null), { level: 1, window: 0, watches: 0 });
  assert.deepEqual(parseSettings(bytes("level=2 window=1000 watches=8 x=y junk")), { level: 2, window: 1000, watches: 8 });
  assert.deepEqual(parseSettings(bytes("level=2")), { level: 2, window: 262144, watches: 64 });
  assert.equal(parseCredit(bytes("4096")), 4096);
  for (const bad of [null, "", "0", "012", "-1", "2147483648", "1e3"]) {
    assert.equal(parseCredit(bad === null ? null : bytes(bad)), null, String(bad));
  }
});

test("surrogates: pairs are kept, lone ones escape as U+FFFD", () => {
  assert.equal(goJsonString("\udc00\ud800"), '"\\ufffd\\ufffd"');
  assert.equal(goJsonString("😀a\ud83d"), '"😀a\\ufffd"');
  assert.equal(goJsonString("\ud83d\ude00\ud83d\ude00"), '"😀😀"');
});

test("a decoder returns the messages before an error, then throws it", () => {
  for (const codec of [JSON_CODEC, BINARY_CODEC]) {
    const good = codec.encode(msg(Meta.AUTH_OK, "x"));
    const bad = codec.name === "json" ? bytes("[1]\n") : hex("00000004 00 04 00 00");
    const d = codec.decoder(1024);
    assert.deepEqual(d.feed(Buffer.concat([good, bad, good])), [msg(Meta.AUTH_OK, "x")]);
    assert.ok(d.error instanceof DecodeError);
    assert.throws(() => d.feed(good), DecodeError);
  }
});
