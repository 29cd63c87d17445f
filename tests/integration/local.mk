# Integration tests: the real mpbroker from the build tree, started with a
# generated config on ephemeral loopback ports, driven by raw sockets whose
# encoders are independent of common/codec_*.c.
#
# Environment (set by tests/local.mk): MPBROKER, MP_PLUGIN_BUILD_DIR,
# MP_TEST_PLUGIN_DIR, MP_BUILDDIR. Optional: MP_BROKER_WRAPPER (e.g.
# "valgrind -q --error-exitcode=99 --leak-check=full" - the broker runs
# under it and must still exit 0), MP_TEST_TIMEOUT_SCALE, MP_TEST_VERBOSE
# (echo the broker's log).
check_LTLIBRARIES += tests/support/libmptest.la
tests_support_libmptest_la_SOURCES = \
	tests/support/harness.c tests/support/harness.h \
	tests/support/rawclient.c tests/support/rawclient.h \
	tests/support/certs.c tests/support/certs.h \
	tests/support/numbered.c tests/support/numbered.h \
	tests/support/fakebroker.c tests/support/fakebroker.h \
	tests/support/httpclient.c tests/support/httpclient.h \
	tests/support/redis_server.c tests/support/redis_server.h \
	tests/support/cluster.c tests/support/cluster.h \
	tests/support/gobclient.c tests/support/gobclient.h \
	tests/support/ws_client.c tests/support/ws_client.h \
	broker/ws_frame.c broker/ws_frame.h \
	tests/gob_transcript.h
# gobclient.c replays tests/gob_transcript.h. ws_client.c frames with
# broker/ws_frame.c (included as "broker/ws_frame.h") and checks the
# handshake with OpenSSL's SHA-1.
tests_support_libmptest_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests \
	-I$(top_srcdir)
tests_support_libmptest_la_CFLAGS = $(TEST_CFLAGS) $(YAJL_CFLAGS) \
	$(HIREDIS_CFLAGS) $(OPENSSL_CFLAGS)
tests_support_libmptest_la_LIBADD = $(YAJL_LIBS) $(CRYPT_LIBS) $(HIREDIS_LIBS) \
	$(OPENSSL_LIBS)

INTEGRATION_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/support
INTEGRATION_LDADD = tests/support/libmptest.la $(TEST_LIBS) -lpthread

INTEGRATION_TESTS = \
	tests/integration/test_auth \
	tests/integration/test_hashing \
	tests/integration/test_routing \
	tests/integration/test_formats \
	tests/integration/test_limits \
	tests/integration/test_websocket \
	tests/integration/test_config \
	tests/integration/test_lifecycle \
	tests/integration/test_transcript
check_PROGRAMS += $(INTEGRATION_TESTS)
TESTS += $(INTEGRATION_TESTS)

tests_integration_test_auth_SOURCES = tests/integration/test_auth.c
tests_integration_test_auth_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_auth_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_auth_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_hashing_SOURCES = tests/integration/test_hashing.c
tests_integration_test_hashing_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_hashing_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_hashing_LDADD = $(INTEGRATION_LDADD) $(CRYPT_LIBS)

tests_integration_test_routing_SOURCES = tests/integration/test_routing.c
tests_integration_test_routing_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_routing_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_routing_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_formats_SOURCES = tests/integration/test_formats.c
tests_integration_test_formats_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_formats_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_formats_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_websocket_SOURCES = tests/integration/test_websocket.c
tests_integration_test_websocket_CPPFLAGS = $(INTEGRATION_CPPFLAGS) \
	-I$(top_srcdir)/broker
tests_integration_test_websocket_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_websocket_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_limits_SOURCES = tests/integration/test_limits.c
tests_integration_test_limits_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_limits_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_limits_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_config_SOURCES = tests/integration/test_config.c
tests_integration_test_config_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_config_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_config_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_lifecycle_SOURCES = tests/integration/test_lifecycle.c
tests_integration_test_lifecycle_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_lifecycle_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_lifecycle_LDADD = $(INTEGRATION_LDADD)

tests_integration_test_transcript_SOURCES = tests/integration/test_transcript.c \
	tests/json_transcript.h
tests_integration_test_transcript_CPPFLAGS = $(INTEGRATION_CPPFLAGS) \
	-I$(top_srcdir)/tests
tests_integration_test_transcript_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_transcript_LDADD = $(INTEGRATION_LDADD)

check_PROGRAMS += tests/integration/test_backpressure
TESTS += tests/integration/test_backpressure
tests_integration_test_backpressure_SOURCES = tests/integration/test_backpressure.c
tests_integration_test_backpressure_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_backpressure_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_backpressure_LDADD = $(INTEGRATION_LDADD)

check_PROGRAMS += tests/integration/test_metrics
TESTS += tests/integration/test_metrics
tests_integration_test_metrics_SOURCES = tests/integration/test_metrics.c
tests_integration_test_metrics_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_metrics_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_metrics_LDADD = $(INTEGRATION_LDADD)

check_PROGRAMS += tests/integration/test_reload
TESTS += tests/integration/test_reload
tests_integration_test_reload_SOURCES = tests/integration/test_reload.c
tests_integration_test_reload_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_reload_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_reload_LDADD = $(INTEGRATION_LDADD)

# The cluster's registry (broker/registry*.c) in process, against a real
# redis-server (tests/support/redis_server.c).
check_PROGRAMS += tests/integration/test_registry
TESTS += tests/integration/test_registry
tests_integration_test_registry_SOURCES = tests/integration/test_registry.c
tests_integration_test_registry_CPPFLAGS = $(INTEGRATION_CPPFLAGS) \
	-I$(top_srcdir)/broker
tests_integration_test_registry_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(HIREDIS_CFLAGS)
tests_integration_test_registry_LDADD = broker/libmpbroker.la \
	$(INTEGRATION_LDADD) $(HIREDIS_LIBS) $(LIBEVENT_LIBS)

# The protobuf wire format (translator_protobuf.so) across formats, on
# auto listeners, with bad input, at level 2, in libmpclient and over
# WebSocket; the raw clients' protobuf is tests/support/rawclient.c's own.
check_PROGRAMS += tests/integration/test_protobuf
TESTS += tests/integration/test_protobuf
tests_integration_test_protobuf_SOURCES = tests/integration/test_protobuf.c
tests_integration_test_protobuf_CPPFLAGS = $(INTEGRATION_CPPFLAGS) \
	-I$(top_srcdir)/broker
tests_integration_test_protobuf_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_integration_test_protobuf_LDADD = libmpclient/libmpclient.la \
	$(INTEGRATION_LDADD) $(LIBEVENT_LIBS)

# The protobuf format from the outside: tests/protobuf/mp_pb_peer.py (Python's
# protobuf package, code generated by protoc from proto/mp.proto at test time)
# against mpcat in every format, the C examples and itself. Needs
# python3-protobuf and protobuf-compiler (it fails, not skips, without them).
check_PROGRAMS += tests/integration/test_protobuf_python
TESTS += tests/integration/test_protobuf_python
EXTRA_DIST += tests/protobuf/mp_pb_peer.py
tests_integration_test_protobuf_python_SOURCES = tests/integration/test_protobuf_python.c
tests_integration_test_protobuf_python_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_protobuf_python_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_protobuf_python_LDADD = $(INTEGRATION_LDADD)
