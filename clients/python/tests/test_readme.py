"""The examples of clients/python/README.md run as written against a broker
configured as the quick start's (`sh tools/quickstart.sh run`).

The test broker's config is the shipped one, conf/mpbroker.conf.in, with
only what a test must change: the paths (@pkglibdir@ -> the build's
plugins, @sysconfdir@ and @runstatedir@ -> a temporary directory holding
a copy of the shipped conf/mpbroker.passwd, with its demo users;
@pkgdatadir@, in a comment only, -> the source's proto/), the
ports (7330 -> 0, an ephemeral port), and `user = "mpbroker"` (the tests
do not drop privileges; allow_root instead). Same listeners and wire
formats, same users and secrets, same limits.

The README's Python blocks read the broker's address from $MP_ADDRESS
(default: the quick start's tcp:127.0.0.1:7330): they are run unchanged,
with MP_ADDRESS set to the test broker; the test checks that their default
is an address the shipped config opens. In the README's shell lines
(examples/echo.py) only the port of that address is rewritten. A block
after a `<!-- fragment: WHY -->` line (TLS, which the shipped config has
no listener for) is only compiled. Expected output comes from the blocks'
own comments: `print(...)  # b'hello'` must print b'hello'.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass

import pytest
from conftest import PACKAGE_DIR, PLUGIN_DIR, SOURCE_TREE, T, Broker, BrokerFactory

README = PACKAGE_DIR / "README.md"
SHIPPED_CONF = SOURCE_TREE / "conf" / "mpbroker.conf.in"
SHIPPED_PASSWD = SOURCE_TREE / "conf" / "mpbroker.passwd"
QUICK_START_ADDRESS = "tcp:127.0.0.1:7330"


@dataclass
class Block:
    lang: str
    code: str
    line: int  # where it starts in the README
    fragment: str | None  # the reason, for a block that is only compiled


def readme_blocks() -> list[Block]:
    blocks: list[Block] = []
    lines = README.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w+)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start = i
        fragment = None
        if start > 0:
            f = re.match(r"^<!-- fragment: (.+?) -->$", lines[start - 1])
            if f:
                fragment = f.group(1)
        i += 1
        body = []
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        blocks.append(Block(m.group(1), "\n".join(body) + "\n", start + 1, fragment))
        i += 1
    return blocks


def python_blocks() -> list[Block]:
    return [b for b in readme_blocks() if b.lang == "python"]


def shipped_listeners() -> list[tuple[str, int, str]]:
    """(address, port, translator) of the shipped config's TCP listeners."""
    text = SHIPPED_CONF.read_text()
    return [
        (a, int(p), t)
        for a, p, t in re.findall(
            r'address\s*=\s*"([^"]+)";\s*port\s*=\s*(\d+);\s*translator\s*=\s*"(\w+)";', text
        )
    ]


def shipped_config(directory: str) -> str:
    """The shipped config for a test broker: see the module's text."""
    text = SHIPPED_CONF.read_text()
    text, n_user = re.subn(r'(?m)^user = "mpbroker";$', "allow_root = true;", text)
    assert n_user == 1, "the shipped config's `user` line changed: update this test"
    text = text.replace("@pkglibdir@", PLUGIN_DIR)
    text = text.replace("@sysconfdir@", directory).replace("@runstatedir@", directory)
    text = text.replace("@pkgdatadir@", str(SOURCE_TREE / "proto"))
    text = re.sub(r"port\s*=\s*7330;", "port = 0;", text)
    assert "@" not in text.replace("@DIR@", ""), "a substitution the test does not know"
    return text


def start_shipped(broker_factory: BrokerFactory) -> Broker:
    def setup(b: Broker) -> None:
        b.write_file("mpbroker.passwd", SHIPPED_PASSWD.read_text())
        os.makedirs(b.path("mpbroker"), exist_ok=True)  # the unix socket's

    return broker_factory(shipped_config("@DIR@"), setup=setup, raw=True)


def expected_outputs(code: str) -> list[str]:
    """The outputs a block's comments promise: `print(...)  # OUT`."""
    return re.findall(r"^\s*print\(.*\)\s*#\s*(.+?)\s*$", code, re.M)


def python_env(address: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PACKAGE_DIR / "src")
    env["MP_ADDRESS"] = address
    env.pop("MP_SECRET", None)  # the README's default, "demo"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# ----------------------------------------------------------------------------


def test_readme_default_address_is_the_quick_starts() -> None:
    # The quick start's listener as the README says: 127.0.0.1:7330,
    # detecting the wire format, so that either format= works.
    assert ("127.0.0.1", 7330, "auto") in shipped_listeners()
    runnable = [b for b in python_blocks() if b.fragment is None]
    assert len(runnable) >= 2, "the README's Python examples went missing"
    for block in runnable:
        addresses = set(re.findall(r"(?:tcp|tls|unix):[\w.\[\]:/-]+", block.code))
        assert addresses == {QUICK_START_ADDRESS}, f"README line {block.line}: {addresses}"
        assert 'os.environ.get("MP_ADDRESS"' in block.code, f"README line {block.line}"
    for block in readme_blocks():
        if block.lang == "sh":
            for address in re.findall(r"(?:tcp|tls):[\w.\[\]:-]+", block.code):
                assert address == QUICK_START_ADDRESS, f"README line {block.line}: {address}"


RUNNABLE = [b for b in python_blocks() if b.fragment is None]
FRAGMENTS = [b for b in python_blocks() if b.fragment]


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"line{b.line}" for b in RUNNABLE])
def test_readme_python_block_runs(broker_factory: BrokerFactory, block: Block) -> None:
    broker = start_shipped(broker_factory)
    proc = subprocess.run(
        [sys.executable, "-c", block.code],
        env=python_env(broker.address("auto")),
        capture_output=True,
        text=True,
        timeout=T(30),
    )
    assert proc.returncode == 0, f"README line {block.line}:\n{proc.stdout}\n{proc.stderr}"
    wanted = expected_outputs(block.code)
    assert wanted, f"README line {block.line}: no `print(...)  # output` to check"
    assert proc.stdout.split() == wanted, proc.stdout


@pytest.mark.parametrize("block", FRAGMENTS, ids=[f"line{b.line}" for b in FRAGMENTS])
def test_readme_python_fragment_compiles(block: Block) -> None:
    compile(block.code, f"README.md:{block.line}", "exec")


def test_readme_echo_example_runs(broker_factory: BrokerFactory) -> None:
    broker = start_shipped(broker_factory)
    address = broker.address("auto")
    commands = [
        line.strip()
        for b in readme_blocks()
        if b.lang == "sh"
        for line in b.code.splitlines()
        if "examples/echo.py" in line
    ]
    server_line = next(c for c in commands if " server " in c)
    client_line = next(c for c in commands if " client " in c)

    def argv(line: str) -> list[str]:
        words = line.replace(QUICK_START_ADDRESS, address).split()
        assert words[0] == "python3", line
        return [sys.executable, *words[1:]]

    env = python_env(address)
    env.pop("MP_ADDRESS")  # the lines name it
    server = subprocess.Popen(
        argv(server_line),
        cwd=SOURCE_TREE,  # the lines are relative to the top of the tree
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Wait (bounded) for the server to log in.
    ready = threading.Event()
    out: list[str] = []

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            out.append(line)
            if "waiting for echo connections" in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(T(15)) and server.poll() is None, "".join(out)
        client = subprocess.run(
            argv(client_line), cwd=SOURCE_TREE, env=env, capture_output=True, text=True,
            timeout=T(30),
        )
        assert client.returncode == 0, client.stdout + client.stderr
        assert "got 'hello' back from echo" in client.stdout
        assert "got 'world' back from echo" in client.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            status = server.wait(T(10))
        except subprocess.TimeoutExpired:
            server.kill()
            status = server.wait()
        reader.join(T(5))
    assert status == 0, "".join(out)
