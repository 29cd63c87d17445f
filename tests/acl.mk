# Tests of the acl authenticator against the real broker.
check_PROGRAMS += tests/integration/test_acl
TESTS += tests/integration/test_acl

tests_integration_test_acl_SOURCES = tests/integration/test_acl.c
tests_integration_test_acl_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_acl_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_acl_LDADD = $(INTEGRATION_LDADD)
