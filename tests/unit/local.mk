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
	broker/conn_table.c broker/conn_table.h broker/xalloc.c broker/xalloc.h
tests_unit_test_conn_table_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_conn_table_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_conn_table_LDADD = common/libmpcommon.la $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_auth_throttle
TESTS += tests/unit/test_auth_throttle
tests_unit_test_auth_throttle_SOURCES = tests/unit/test_auth_throttle.c \
	broker/auth_throttle.c broker/auth_throttle.h \
	broker/cidr.c broker/cidr.h broker/xalloc.c broker/xalloc.h
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
	broker/work_pool.c broker/work_pool.h broker/xalloc.c broker/xalloc.h
tests_unit_test_work_pool_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_work_pool_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_work_pool_LDADD = common/libmpcommon.la $(LIBEVENT_LIBS) \
	$(TEST_LIBS)

# The routing core in process: the router and backpressure between fake
# endpoints (no sockets), and the memory-failure policy.
check_PROGRAMS += tests/unit/test_router tests/unit/test_flow \
	tests/unit/test_credit tests/unit/test_xalloc
TESTS += tests/unit/test_router tests/unit/test_flow tests/unit/test_credit \
	tests/unit/test_xalloc
BROKER_TEST_LDADD = broker/libmpbroker.la common/libmpcommon.la \
	$(LIBEVENT_OPENSSL_LIBS) $(OPENSSL_LIBS) $(LIBEVENT_LIBS) \
	$(LIBCONFIG_LIBS) $(DL_LIBS) $(TEST_LIBS)
tests_unit_test_router_SOURCES = tests/unit/test_router.c \
	tests/unit/fake_endpoint.c tests/unit/fake_endpoint.h
tests_unit_test_router_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_router_CFLAGS = $(TEST_CFLAGS) $(LIBCONFIG_CFLAGS)
tests_unit_test_router_LDADD = $(BROKER_TEST_LDADD)
tests_unit_test_flow_SOURCES = tests/unit/test_flow.c \
	tests/unit/fake_endpoint.c tests/unit/fake_endpoint.h
tests_unit_test_flow_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_flow_CFLAGS = $(TEST_CFLAGS) $(LIBCONFIG_CFLAGS)
tests_unit_test_flow_LDADD = $(BROKER_TEST_LDADD)
tests_unit_test_credit_SOURCES = tests/unit/test_credit.c \
	tests/unit/fake_endpoint.c tests/unit/fake_endpoint.h
tests_unit_test_credit_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_credit_CFLAGS = $(TEST_CFLAGS) $(LIBCONFIG_CFLAGS)
tests_unit_test_credit_LDADD = $(BROKER_TEST_LDADD)
tests_unit_test_xalloc_SOURCES = tests/unit/test_xalloc.c
tests_unit_test_xalloc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_xalloc_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_xalloc_LDADD = $(BROKER_TEST_LDADD)

# The config schema table against what conf_load() and reloads do.
check_PROGRAMS += tests/unit/test_conf
TESTS += tests/unit/test_conf
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c
tests_unit_test_conf_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_conf_CFLAGS = $(TEST_CFLAGS) $(LIBCONFIG_CFLAGS)
tests_unit_test_conf_LDADD = $(BROKER_TEST_LDADD)

# Reading what a socket holds in one go, also from a bufferevent's input
# (whose end libevent keeps frozen outside its own reads).
check_PROGRAMS += tests/unit/test_read_batch
TESTS += tests/unit/test_read_batch
tests_unit_test_read_batch_SOURCES = tests/unit/test_read_batch.c \
	common/read_batch.c common/read_batch.h
tests_unit_test_read_batch_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_read_batch_LDADD = common/libmpcommon.la $(LIBEVENT_LIBS) \
	$(TEST_LIBS)

# The cluster's link frames: pure encoding and decoding.
check_PROGRAMS += tests/unit/test_link_frame
TESTS += tests/unit/test_link_frame
tests_unit_test_link_frame_SOURCES = tests/unit/test_link_frame.c \
	broker/link_frame.c broker/link_frame.h
tests_unit_test_link_frame_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_link_frame_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_link_frame_LDADD = $(TEST_LIBS)

# The cluster's links in process: link sets on one event base, loopback.
check_PROGRAMS += tests/unit/test_link
TESTS += tests/unit/test_link
tests_unit_test_link_SOURCES = tests/unit/test_link.c
tests_unit_test_link_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_link_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_test_link_LDADD = $(BROKER_TEST_LDADD)

# WebSocket frames and the opening handshake (issue 20): pure parsing and
# writing, no sockets.
check_PROGRAMS += tests/unit/test_ws_frame tests/unit/test_ws_handshake
TESTS += tests/unit/test_ws_frame tests/unit/test_ws_handshake
tests_unit_test_ws_frame_SOURCES = tests/unit/test_ws_frame.c \
	broker/ws_frame.c broker/ws_frame.h
tests_unit_test_ws_frame_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_ws_frame_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ws_frame_LDADD = $(TEST_LIBS)
tests_unit_test_ws_handshake_SOURCES = tests/unit/test_ws_handshake.c \
	broker/ws_handshake.c broker/ws_handshake.h
tests_unit_test_ws_handshake_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_unit_test_ws_handshake_CFLAGS = $(TEST_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_ws_handshake_LDADD = common/libmpcommon.la $(OPENSSL_LIBS) \
	$(TEST_LIBS)

# The tests' WebSocket client (tests/support/ws_client.c) against an echo
# server in a thread built on the broker's handshake and frame code.
check_PROGRAMS += tests/unit/test_ws_client
TESTS += tests/unit/test_ws_client
tests_unit_test_ws_client_SOURCES = tests/unit/test_ws_client.c \
	tests/support/ws_client.c tests/support/ws_client.h \
	broker/ws_frame.c broker/ws_frame.h \
	broker/ws_handshake.c broker/ws_handshake.h
tests_unit_test_ws_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir) \
	-I$(top_srcdir)/tests/support
tests_unit_test_ws_client_CFLAGS = $(TEST_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_ws_client_LDADD = common/libmpcommon.la $(OPENSSL_LIBS) \
	$(TEST_LIBS) -lpthread
