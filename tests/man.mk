# The manual pages against the code (doc/man/): mpbroker.conf(5) must
# document every setting the config parser accepts, every option of the
# shipped plugins, and nothing else (tests/unit/test_man_conf.c).
check_PROGRAMS += tests/unit/test_man_conf
TESTS += tests/unit/test_man_conf

tests_unit_test_man_conf_SOURCES = tests/unit/test_man_conf.c
tests_unit_test_man_conf_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_man_conf_CFLAGS = $(TEST_CFLAGS) $(LIBCONFIG_CFLAGS)
tests_unit_test_man_conf_LDADD = broker/libmpbroker.la common/libmpcommon.la \
	$(LIBEVENT_OPENSSL_LIBS) $(OPENSSL_LIBS) $(LIBEVENT_LIBS) \
	$(LIBCONFIG_LIBS) $(DL_LIBS) $(TEST_LIBS)
