# Tests of the authenticators and the passwd file, and the test-only
# plugins the integration tests load.
check_LTLIBRARIES += tests/plugins/auth_delayed.la tests/plugins/bad_abi.la

tests_plugins_auth_delayed_la_SOURCES = tests/plugins/auth_delayed.c
tests_plugins_auth_delayed_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

tests_plugins_bad_abi_la_SOURCES = tests/plugins/bad_abi.c
tests_plugins_bad_abi_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

check_PROGRAMS += tests/unit/test_passwd_file
TESTS += tests/unit/test_passwd_file
tests_unit_test_passwd_file_SOURCES = tests/unit/test_passwd_file.c
tests_unit_test_passwd_file_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_passwd_file_LDADD = common/libmppasswd_update.la $(TEST_LIBS)

# mpbroker-passwd itself: -c, -b, -S, modes, and a broker using its file.
check_PROGRAMS += tests/integration/test_passwd_tool
TESTS += tests/integration/test_passwd_tool
tests_integration_test_passwd_tool_SOURCES = tests/integration/test_passwd_tool.c
tests_integration_test_passwd_tool_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_passwd_tool_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_passwd_tool_LDADD = common/libmppasswd.la $(INTEGRATION_LDADD)
