"""Test support: start and stop the real mpbroker, run coroutine tests,
write a results file.

Environment (each optional):

``MPBROKER``              the broker binary (default: broker/mpbroker of
                          this source tree)
``MP_PLUGIN_BUILD_DIR``   its plugin directory (default: plugins/.libs)
``MPCAT``                 the mpcat tool (default: tools/mpcat)
``MPBROKER_PASSWD``       mpbroker-passwd, used for password files when
                          Python has no ``crypt`` module (default:
                          tools/mpbroker-passwd)
``MP_EXAMPLES_DIR``       where the C examples echo_server and echo_client
                          are built (default: examples)
``MP_BROKER_WRAPPER``     words to run the broker under (e.g. valgrind);
                          multiplies the timeouts by 20
``MP_TEST_TIMEOUT_SCALE`` multiplies every timeout (default 1)
``MP_TEST_VERBOSE``       print the broker's log lines as they come
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = HERE.parent  # clients/python
SOURCE_TREE = PACKAGE_DIR.parent.parent  # the mpbroker tree

# The package under test: this tree's, not an installed copy.
sys.path.insert(0, str(PACKAGE_DIR / "src"))


def _env_path(name: str, default: Path) -> str:
    value = os.environ.get(name)
    return value if value else str(default)


MPBROKER = _env_path("MPBROKER", SOURCE_TREE / "broker" / "mpbroker")
PLUGIN_DIR = _env_path("MP_PLUGIN_BUILD_DIR", SOURCE_TREE / "plugins" / ".libs")
MPCAT = _env_path("MPCAT", SOURCE_TREE / "tools" / "mpcat")
MPBROKER_PASSWD = _env_path("MPBROKER_PASSWD", SOURCE_TREE / "tools" / "mpbroker-passwd")
EXAMPLES_DIR = _env_path("MP_EXAMPLES_DIR", SOURCE_TREE / "examples")
MAKE_CERTS = SOURCE_TREE / "tests" / "support" / "make-certs.sh"
WRAPPER = shlex.split(os.environ.get("MP_BROKER_WRAPPER", ""))


def timeout_scale() -> float:
    text = os.environ.get("MP_TEST_TIMEOUT_SCALE", "")
    if text:
        try:
            return max(1.0, float(text))
        except ValueError:
            return 1.0
    return 20.0 if WRAPPER else 1.0


def T(seconds: float) -> float:
    """A timeout, scaled for slow runs (valgrind, sanitizers)."""
    return seconds * timeout_scale()


#: The bound on one whole test.
TEST_TIMEOUT = 60.0


# ----------------------------------------------------------------------------
# The broker


@dataclass
class Listener:
    """A listener the broker logged: ``info: listening on LABEL translator=NAME``."""

    label: str  # "tcp:127.0.0.1:PORT", "tls:127.0.0.1:PORT", "unix:PATH"
    translator: str

    @property
    def scheme(self) -> str:
        return self.label.split(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.label.rsplit(":", 1)[1])


def short_tmpdir() -> str:
    root = os.environ.get("TMPDIR", "")
    # Unix socket paths must stay short (108 bytes).
    if not (root.startswith("/") and len(root) < 48):
        root = "/tmp"
    return tempfile.mkdtemp(prefix="mpbpy.", dir=root)


@dataclass
class Broker:
    """One mpbroker process, its config directory and its log."""

    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    lines: list[str] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    eof: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)
    reader: threading.Thread | None = None
    returncode: int | None = None

    # -- files ----------------------------------------------------------------

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def write_file(self, name: str, text: str) -> str:
        p = self.dir / name
        p.write_text(text)
        return str(p)

    def make_certs(self) -> None:
        """ca.pem, server.pem/key (localhost, 127.0.0.1), alice.pem/key,
        rogue-ca.pem ... in the broker's directory."""
        subprocess.run(
            ["sh", str(MAKE_CERTS), str(self.dir)],
            check=True,
            timeout=T(60),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def passwd_entry(self, name: str, secret: str) -> str:
        """A ``name:HASH`` line for auth_passwd (SHA-512 crypt)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import crypt  # deprecated in 3.11, gone in 3.13

            return f"{name}:{crypt.crypt(secret, crypt.mksalt(crypt.METHOD_SHA512))}"
        except ImportError:
            scratch = self.dir / f".passwd-{name}"
            subprocess.run(
                [MPBROKER_PASSWD, str(scratch), name],
                input=(secret + "\n").encode(),
                check=True,
                timeout=T(30),
                capture_output=True,
            )
            line = scratch.read_text().strip()
            scratch.unlink()
            return line

    # -- running --------------------------------------------------------------

    def start(self, body: str, raw: bool = False) -> Broker:
        """Write mpbroker.conf (prologue + body; with ``raw``, body alone),
        start the broker, and wait for "notice: ready"."""
        prologue = (
            "# written by clients/python/tests/conftest.py\n"
            f'plugin_dir = "{PLUGIN_DIR}"; allow_root = true;\n'
            'translators = ( { name = "json"; module = "translator_json.so"; },\n'
            '                { name = "binary"; module = "translator_binary.so"; } );\n'
        )
        config = self.write_file("mpbroker.conf", body if raw else prologue + body)
        self.proc = subprocess.Popen(
            [*WRAPPER, MPBROKER, "-c", config],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()
        if not self.wait_log("notice: ready", T(10)):
            self.kill()
            pytest.fail(f"the broker did not become ready; its log:\n{self.log_text()}")
        return self

    def _read_log(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        verbose = os.environ.get("MP_TEST_VERBOSE", "") not in ("", "0")
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if verbose:
                print(f"[mpbroker {self.proc.pid}] {line}", file=sys.stderr)
            with self.cond:
                self.lines.append(line)
                if "listening on " in line and " translator=" in line:
                    rest = line.split("listening on ", 1)[1]
                    label, translator = rest.rsplit(" translator=", 1)
                    self.listeners.append(Listener(label, translator.strip()))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_log(self, substring: str, timeout: float, start: int = 0) -> bool:
        """Wait until a log line (from index ``start``) contains
        ``substring``; False after ``timeout`` seconds or at the end of the
        log."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if any(substring in line for line in self.lines[start:]):
                    return True
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return False
                self.cond.wait(left)

    def log_mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def log_text(self) -> str:
        with self.cond:
            return "\n".join(self.lines)

    def address(self, translator: str = "binary", scheme: str = "tcp") -> str:
        """The address of the first listener with that translator and
        scheme (tcp, tls or unix)."""
        with self.cond:
            for listener in self.listeners:
                if listener.translator == translator and listener.scheme == scheme:
                    return listener.label
        pytest.fail(f"no {scheme} listener with translator {translator}; log:\n{self.log_text()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.returncode is None

    def stop(self) -> None:
        """SIGTERM, and assert a clean exit (status 0) within 10 s."""
        if self.proc is None or self.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(T(10))
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the broker did not exit within 10 s of SIGTERM; log:\n{self.log_text()}")
        self._close_log()
        if self.returncode != 0:
            pytest.fail(
                f"the broker exited with status {self.returncode} after SIGTERM; "
                f"log:\n{self.log_text()}"
            )

    def kill(self) -> None:
        if self.proc is not None and self.returncode is None:
            self.proc.kill()
            self.returncode = self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self.reader is not None:
            self.reader.join(T(5))
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


DEFAULT_LISTENERS = """listeners = (
  { address = "127.0.0.1"; port = 0; translator = "json"; },
  { address = "127.0.0.1"; port = 0; translator = "binary"; },
  { unix = "@DIR@/mp.sock"; translator = "auto"; } );
"""
ALLOW_ALL = 'authenticators = ( { module = "auth_allow_all.so"; } );\n'

BrokerFactory = Callable[..., Broker]


@pytest.fixture
def broker_factory(request: pytest.FixtureRequest) -> Iterator[BrokerFactory]:
    """``start(body=None, setup=None, raw=False)``: a broker with ``body``
    after the standard prologue (with ``raw``, the whole config) (default: allow_all and the default listeners: tcp
    json, tcp binary, unix auto); ``setup(broker)`` runs before it starts
    (to write files). ``@DIR@`` in the body is the broker's directory.
    Every broker is stopped with SIGTERM at the end, and must exit 0."""
    brokers: list[Broker] = []

    def start(
        body: str | None = None,
        setup: Callable[[Broker], None] | None = None,
        raw: bool = False,
    ) -> Broker:
        b = Broker(Path(short_tmpdir()))
        brokers.append(b)
        if setup is not None:
            setup(b)
        text = ALLOW_ALL + DEFAULT_LISTENERS if body is None else body
        return b.start(text.replace("@DIR@", str(b.dir)), raw=raw)

    yield start

    failed = getattr(request.node, "rep_call", None)
    try:
        for b in brokers:
            if failed is not None and failed.failed:
                print(f"--- broker log ({b.dir}) ---\n{b.log_text()}")
            b.stop()
    finally:
        for b in brokers:
            b.kill()
            shutil.rmtree(b.dir, ignore_errors=True)


@pytest.fixture
def broker(broker_factory: BrokerFactory) -> Broker:
    """A broker with allow_all and the default listeners."""
    return broker_factory()


# ----------------------------------------------------------------------------
# Coroutine tests (no pytest-asyncio needed), each bounded


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    params = inspect.signature(pyfuncitem.obj).parameters
    kwargs = {name: pyfuncitem.funcargs[name] for name in params}

    async def bounded() -> Any:
        return await asyncio.wait_for(pyfuncitem.obj(**kwargs), T(TEST_TIMEOUT))

    asyncio.run(bounded())
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


# ----------------------------------------------------------------------------
# The results file: "PASS python NAME" / "FAIL python NAME", one per test


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--results-file",
        default=None,
        help='write one "PASS python NAME" or "FAIL python NAME" line per test here',
    )


_results: dict[str, str] = {}


def _result_name(nodeid: str) -> str:
    path, _, rest = nodeid.partition("::")
    stem = Path(path).stem
    return f"{stem}::{rest}".replace(" ", "_")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    name = _result_name(report.nodeid)
    if report.failed:
        _results[name] = "FAIL"
    elif report.skipped and _results.get(name) != "FAIL":
        _results[name] = "SKIP"
    elif report.when == "call" and report.passed and name not in _results:
        _results[name] = "PASS"


def pytest_collectreport(report: pytest.CollectReport) -> None:
    # A module that cannot even be collected counts as one failure.
    if report.failed:
        _results[_result_name(report.nodeid) + "::collection"] = "FAIL"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("--results-file")
    if not path:
        return
    with open(path, "w") as f:
        for name, status in _results.items():
            f.write(f"{status} python {name}\n")
