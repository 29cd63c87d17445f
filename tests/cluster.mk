# The cluster (doc/cluster.md): several real brokers on a real
# redis-server started by each test on a free loopback port, with socat
# proxies to cut one path (tests/support/cluster.h).
CLUSTER_TESTS = tests/integration/test_cluster
check_PROGRAMS += $(CLUSTER_TESTS)
TESTS += $(CLUSTER_TESTS)

tests_integration_test_cluster_SOURCES = tests/integration/test_cluster.c
tests_integration_test_cluster_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_cluster_CFLAGS = $(TEST_CFLAGS) $(HIREDIS_CFLAGS)
tests_integration_test_cluster_LDADD = $(INTEGRATION_LDADD) $(HIREDIS_LIBS)

CLUSTER_TESTS += tests/integration/test_cluster_faults
check_PROGRAMS += tests/integration/test_cluster_faults
TESTS += tests/integration/test_cluster_faults
tests_integration_test_cluster_faults_SOURCES = \
	tests/integration/test_cluster_faults.c
tests_integration_test_cluster_faults_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_cluster_faults_CFLAGS = $(TEST_CFLAGS) \
	$(HIREDIS_CFLAGS)
tests_integration_test_cluster_faults_LDADD = $(INTEGRATION_LDADD) \
	$(HIREDIS_LIBS)

# tools/cluster-demo.sh run as a user runs it (redis-server, three brokers,
# an echo across them), and stopped half way by SIGTERM: nothing is left.
CLUSTER_TESTS += tests/integration/test_cluster_demo
check_PROGRAMS += tests/integration/test_cluster_demo
TESTS += tests/integration/test_cluster_demo
tests_integration_test_cluster_demo_SOURCES = \
	tests/integration/test_cluster_demo.c
tests_integration_test_cluster_demo_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_cluster_demo_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_cluster_demo_LDADD = $(INTEGRATION_LDADD)

# Every kind of client across brokers: the original's JSON and Gob
# clients (their captures replayed), libmpclient and mpcat.
CLUSTER_TESTS += tests/integration/test_cluster_clients
check_PROGRAMS += tests/integration/test_cluster_clients
TESTS += tests/integration/test_cluster_clients
tests_integration_test_cluster_clients_SOURCES = \
	tests/integration/test_cluster_clients.c tests/json_transcript.h
tests_integration_test_cluster_clients_CPPFLAGS = $(INTEGRATION_CPPFLAGS) \
	-I$(top_srcdir)/tests
tests_integration_test_cluster_clients_CFLAGS = $(TEST_CFLAGS) \
	$(LIBEVENT_CFLAGS)
tests_integration_test_cluster_clients_LDADD = libmpclient/libmpclient.la \
	$(INTEGRATION_LDADD) $(LIBEVENT_LIBS)
