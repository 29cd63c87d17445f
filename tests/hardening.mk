# Bad-input catalogue and fault tests (issue 5); hostile peers (issue 13).
HARDENING_TESTS = \
	tests/integration/test_badinput \
	tests/integration/test_faults \
	tests/integration/test_hostile
check_PROGRAMS += $(HARDENING_TESTS)
TESTS += $(HARDENING_TESTS)

tests_integration_test_badinput_SOURCES = tests/integration/test_badinput.c
tests_integration_test_badinput_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_badinput_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_badinput_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_faults_SOURCES = tests/integration/test_faults.c
tests_integration_test_faults_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_faults_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_faults_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_hostile_SOURCES = tests/integration/test_hostile.c
tests_integration_test_hostile_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_hostile_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_hostile_LDADD = $(INTEGRATION_LDADD)
