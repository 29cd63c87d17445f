# Tests of the programs and the plugin in examples/, against the real
# broker. They find the examples through MP_EXAMPLES_DIR (set in
# tests/local.mk); the examples are built by `make` (examples/local.mk).
EXAMPLE_TESTS = tests/integration/test_examples
check_PROGRAMS += $(EXAMPLE_TESTS)
TESTS += $(EXAMPLE_TESTS)

tests_integration_test_examples_SOURCES = tests/integration/test_examples.c
tests_integration_test_examples_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_examples_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_examples_LDADD = $(INTEGRATION_LDADD)
