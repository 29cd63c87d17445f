# TLS listeners, libmpclient's tls: addresses and the auth_cert plugin.
# Certificates are made at test time (tests/support/make-certs.sh).
TLS_TESTS = tests/integration/test_tls
check_PROGRAMS += $(TLS_TESTS)
TESTS += $(TLS_TESTS)

tests_integration_test_tls_SOURCES = tests/integration/test_tls.c
tests_integration_test_tls_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_tls_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(OPENSSL_CFLAGS)
tests_integration_test_tls_LDADD = libmpclient/libmpclient.la \
	$(INTEGRATION_LDADD) $(LIBEVENT_LIBS) $(OPENSSL_LIBS)
