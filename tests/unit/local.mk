# Unit tests of the broker's own tables and of the name rules.
check_PROGRAMS += tests/unit/test_name tests/unit/test_conn_table \
	tests/unit/test_hashmap
TESTS += tests/unit/test_name tests/unit/test_conn_table \
	tests/unit/test_hashmap

tests_unit_test_name_SOURCES = tests/unit/test_name.c
tests_unit_test_name_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_name_LDADD = common/libmpcommon.la $(TEST_LIBS)

tests_unit_test_hashmap_SOURCES = tests/unit/test_hashmap.c
tests_unit_test_hashmap_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_hashmap_LDADD = common/libmpcommon.la $(TEST_LIBS)

tests_unit_test_conn_table_SOURCES = tests/unit/test_conn_table.c \
	broker/conn_table.c broker/conn_table.h
tests_unit_test_conn_table_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_conn_table_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_conn_table_LDADD = common/libmpcommon.la $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_auth_throttle
TESTS += tests/unit/test_auth_throttle
tests_unit_test_auth_throttle_SOURCES = tests/unit/test_auth_throttle.c \
	broker/auth_throttle.c broker/auth_throttle.h \
	broker/cidr.c broker/cidr.h
tests_unit_test_auth_throttle_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_auth_throttle_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_auth_throttle_LDADD = common/libmpcommon.la $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_log
TESTS += tests/unit/test_log
tests_unit_test_log_SOURCES = tests/unit/test_log.c
tests_unit_test_log_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_log_LDADD = common/libmpcommon.la $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_work_pool
TESTS += tests/unit/test_work_pool
tests_unit_test_work_pool_SOURCES = tests/unit/test_work_pool.c \
	broker/work_pool.c broker/work_pool.h
tests_unit_test_work_pool_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_work_pool_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_work_pool_LDADD = common/libmpcommon.la $(LIBEVENT_LIBS) \
	$(TEST_LIBS)

# The config schema table against what conf_load() and reloads do.
check_PROGRAMS += tests/unit/test_conf
TESTS += tests/unit/test_conf
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c
# Built as the man page test is (tests/man.mk): against the broker library.
tests_unit_test_conf_CPPFLAGS = $(tests_unit_test_man_conf_CPPFLAGS)
tests_unit_test_conf_CFLAGS = $(tests_unit_test_man_conf_CFLAGS)
tests_unit_test_conf_LDADD = $(tests_unit_test_man_conf_LDADD)
