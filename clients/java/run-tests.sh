#!/bin/sh
# run-tests.sh - the Java client's tests (JUnit 5), against the real broker.
#
#   sh clients/java/run-tests.sh [--results FILE] [LAUNCHER ARGS...]
#
# Builds the library and the tests (`ant compile-tests`), the jar and its
# Javadoc (`ant jar javadoc`, doclint clean), then runs the tests
# with JUnit's console launcher (`ant test`; LAUNCHER ARGS replace its
# --scan-class-path, e.g. --select-class=org.mpbroker.client.InteropTest),
# and exits with the tests' status. Each test is bounded: 60 s, times
# the timeout scale below (JUnit's default timeout, on a thread of its
# own so that a stuck test fails instead of hanging the run).
#
# With --results FILE, it also writes one line per test to FILE, from the
# launcher's XML report (build/test-reports/TEST-junit-jupiter.xml):
#     PASS java TestBrokerTest::startsConnectsAndStops
#     FAIL java InteropTest::javaOpensToMpcat[binary-tcp]
#     SKIP java ...
# (a parameterized test's display name in brackets, spaces as _). When
# the tests cannot run, one line says why and exits 1:
#     FAIL java run-tests.sh:java_missing    (Debian: openjdk-17-jdk-headless)
#     FAIL java run-tests.sh:ant_missing     (Debian: ant)
#     FAIL java run-tests.sh:junit5_missing  (Debian: junit5)
#     FAIL java run-tests.sh:build           (the library or the tests do
#                                            not compile)
# and "FAIL java run-tests.sh:report" when the launcher failed without a
# failing test to show for it (a class that could not start, a crash).
#
# The environment goes through unchanged (see
# src/test/java/org/mpbroker/client/TestEnv.java): MPBROKER,
# MP_PLUGIN_BUILD_DIR, MPCAT, MP_EXAMPLES_DIR, MP_BUILD_DIR,
# MP_SOURCE_TREE, MP_BROKER_WRAPPER, MP_TEST_TIMEOUT_SCALE,
# MP_TEST_VERBOSE, PYTHON; JUNIT_JAR picks the console launcher (default
# Debian's /usr/share/java/junit-platform-console-standalone.jar).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
results=
while [ $# -gt 0 ]; do
    case $1 in
    --results) results=$2; shift 2 ;;
    --results=*) results=${1#--results=}; shift ;;
    *) break ;;
    esac
done
case $results in
"") ;;
/*) ;;
*) results=$(pwd)/$results ;;
esac
[ -z "$results" ] || : >"$results"

if [ -z "${PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
junit=${JUNIT_JAR:-/usr/share/java/junit-platform-console-standalone.jar}

# cannot NAME WHY [PACKAGE]: the tests cannot run.
cannot() {
    fix=${3:+" (Debian: apt-get install $3)"}
    echo "run-tests.sh: $2$fix" >&2
    [ -z "$results" ] || echo "FAIL java run-tests.sh:$1 (${3:+Debian: apt-get install $3; }$2)" >>"$results"
    exit 1
}

if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
    cannot java_missing "no java and javac in PATH" openjdk-17-jdk-headless
fi
command -v ant >/dev/null 2>&1 ||
    cannot ant_missing "no ant in PATH" ant
[ -f "$junit" ] ||
    cannot junit5_missing "no JUnit console launcher at $junit" junit5

# The timeout scale, as the tests compute it (TestEnv.timeoutScale).
scale=$(awk -v s="${MP_TEST_TIMEOUT_SCALE:-}" -v w="${MP_BROKER_WRAPPER:-}" 'BEGIN {
    if (s != "") { v = s + 0; if (s !~ /^[ \t]*[0-9.]/) v = 1; print (v < 1 ? 1 : v) }
    else print (w ~ /[^ \t]/ ? 20 : 1) }')
test_timeout=$(awk -v s="$scale" 'BEGIN { printf "%d", 60 * s }')

cd "$here"
# Classes of tests since removed must not run.
rm -rf build/test-classes
if ! ant -q -Djunit.jar="$junit" compile-tests >&2; then
    cannot build "ant compile-tests failed: the library or its tests do not compile"
fi
# The jar users build, and its Javadoc (doclint: every public thing documented).
if ! ant -q jar javadoc >&2; then
    cannot javadoc "ant jar javadoc failed: the jar or the Javadoc does not build cleanly"
fi

if [ $# -eq 0 ]; then
    set -- --scan-class-path
fi
# A stale report must not pass for this run's.
rm -rf build/test-reports
status=0
ant -Djunit.jar="$junit" \
    -Dtest.args="$* --config=junit.jupiter.execution.timeout.default=${test_timeout}s --config=junit.jupiter.execution.timeout.thread.mode.default=SEPARATE_THREAD" \
    test || status=$?

if [ -n "$results" ] && ! ls build/test-reports/*.xml >/dev/null 2>&1; then
    echo "FAIL java run-tests.sh:report (no XML report: the launcher stopped before any test ran)" >>"$results"
    [ $status -ne 0 ] || status=1
elif [ -n "$results" ]; then
    "$PYTHON" - "$results" build/test-reports/*.xml <<'PY' || status=1
"""One "STATUS java Class::method" line per testcase of JUnit's XML reports."""
import re
import sys
import xml.etree.ElementTree as ET

out = open(sys.argv[1], "a")
for path in sys.argv[2:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"run-tests.sh: cannot read {path}: {e}", file=sys.stderr)
        out.write(f"FAIL java run-tests.sh:report ({path} unreadable)\n")
        continue
    for case in root.iter("testcase"):
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "")
        method = name.split("(", 1)[0]
        # An invocation of a parameterized test: "m(String)[2]", whose
        # display name ("binary-tcp", or "[2] binary, tcp") tells it apart.
        if re.search(r"\)\[\d+\]$", name):
            shown = re.search(r"^display-name: (.*)$", case.findtext("system-out") or "", re.M)
            label = shown.group(1) if shown else name.rsplit("[", 1)[1][:-1]
            label = re.sub(r"^\[\d+\] ", "", label)
            method += f"[{label}]"
        if case.find("failure") is not None or case.find("error") is not None:
            status = "FAIL"
        elif case.find("skipped") is not None:
            status = "SKIP"
        else:
            status = "PASS"
        ident = f"{cls}::{method}".replace(" ", "_")
        out.write(f"{status} java {ident}\n")
PY
    if [ $status -ne 0 ] && ! grep -q '^FAIL ' "$results"; then
        echo "FAIL java run-tests.sh:report (the launcher failed, no test did)" >>"$results"
    fi
    if ! grep -q '^\(PASS\|SKIP\) ' "$results" && ! grep -q '^FAIL ' "$results"; then
        echo "FAIL java run-tests.sh:report (no test ran)" >>"$results"
        status=1
    fi
fi
exit $status
