# Tests of authorization plugins and of the plugin loader: the acl
# authorizer against the real broker, the loader alone (unit), and
# plugins built against the ABI-1 header of 0.2.0 (tests/plugins/
# legacy_authz.c, built twice: whole ops table, and one whose declared
# size stops before authorize_syn).
check_PROGRAMS += tests/integration/test_acl
TESTS += tests/integration/test_acl

tests_integration_test_acl_SOURCES = tests/integration/test_acl.c
tests_integration_test_acl_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_acl_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_acl_LDADD = $(INTEGRATION_LDADD)

check_LTLIBRARIES += tests/plugins/legacy_authz.la \
	tests/plugins/legacy_authz_short.la
tests_plugins_legacy_authz_la_SOURCES = tests/plugins/legacy_authz.c
tests_plugins_legacy_authz_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_legacy_authz_short_la_SOURCES = tests/plugins/legacy_authz.c
tests_plugins_legacy_authz_short_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLEGACY_SHORT_OPS
tests_plugins_legacy_authz_short_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

check_PROGRAMS += tests/unit/test_plugin_loader
TESTS += tests/unit/test_plugin_loader
tests_unit_test_plugin_loader_SOURCES = tests/unit/test_plugin_loader.c
tests_unit_test_plugin_loader_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_plugin_loader_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBCONFIG_CFLAGS)
tests_unit_test_plugin_loader_LDADD = broker/libmpbroker.la $(LIBEVENT_LIBS) \
	$(TEST_LIBS)

# The acl plugin's authorize_see (see/hide rules, the default derived
# from allow/deny), through the loader as presence asks it.
check_PROGRAMS += tests/unit/test_acl_see
TESTS += tests/unit/test_acl_see
tests_unit_test_acl_see_SOURCES = tests/unit/test_acl_see.c
tests_unit_test_acl_see_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_acl_see_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBCONFIG_CFLAGS)
tests_unit_test_acl_see_LDADD = broker/libmpbroker.la $(LIBEVENT_LIBS) \
	$(TEST_LIBS)
