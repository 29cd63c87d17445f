# Tests of libmpclient and mpcat against the real broker.
CLIENT_TESTS = tests/integration/test_client tests/integration/test_mpcat \
	tests/integration/test_client_hostile
check_PROGRAMS += $(CLIENT_TESTS)
TESTS += $(CLIENT_TESTS)

tests_integration_test_client_SOURCES = tests/integration/test_client.c
tests_integration_test_client_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_client_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_integration_test_client_LDADD = libmpclient/libmpclient.la \
	$(INTEGRATION_LDADD) $(LIBEVENT_LIBS)

tests_integration_test_mpcat_SOURCES = tests/integration/test_mpcat.c
tests_integration_test_mpcat_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_mpcat_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_mpcat_LDADD = $(INTEGRATION_LDADD)

# libmpclient against a scripted hostile broker (tests/support/fakebroker.c)
tests_integration_test_client_hostile_SOURCES = tests/integration/test_client_hostile.c
tests_integration_test_client_hostile_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_client_hostile_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_integration_test_client_hostile_LDADD = libmpclient/libmpclient.la \
	$(INTEGRATION_LDADD) $(LIBEVENT_LIBS)

# libmpclient with names of several addresses (Happy Eyeballs), answered
# by a fake getaddrinfo linked into the program itself: the executable's
# definition interposes libc's for libmpclient.so too.
DIAL_TESTS = tests/integration/test_dial
check_PROGRAMS += $(DIAL_TESTS)
TESTS += $(DIAL_TESTS)
tests_integration_test_dial_SOURCES = tests/integration/test_dial.c \
	tests/support/fake_resolver.c tests/support/fake_resolver.h
tests_integration_test_dial_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_dial_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_dial_LDADD = libmpclient/libmpclient.la \
	$(INTEGRATION_LDADD) $(DL_LIBS)
