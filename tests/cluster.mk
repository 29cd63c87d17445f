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
