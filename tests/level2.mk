# Protocol level 2 (issue 18): credit, presence, Denied/Replaced/GoingAway.
LEVEL2_TESTS = \
	tests/integration/test_level2 \
	tests/integration/test_presence
check_PROGRAMS += $(LEVEL2_TESTS)
TESTS += $(LEVEL2_TESTS)

tests_integration_test_level2_SOURCES = tests/integration/test_level2.c
tests_integration_test_level2_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_level2_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_level2_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_presence_SOURCES = tests/integration/test_presence.c
tests_integration_test_presence_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_presence_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_presence_LDADD = $(INTEGRATION_LDADD)
