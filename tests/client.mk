# Tests of libmpclient and mpcat against the real broker.
# test_client: libmpclient's contract, one file a concern
# (test_client_{login,conn,close,loop,level2,reconnect,request}.c) on one fixture
# (test_client_fixture.h).
CLIENT_TESTS = tests/integration/test_client tests/integration/test_mpcat \
	tests/integration/test_client_hostile
check_PROGRAMS += $(CLIENT_TESTS)
TESTS += $(CLIENT_TESTS)

tests_integration_test_client_SOURCES = \
	tests/integration/test_client_fixture.c \
	tests/integration/test_client_fixture.h \
	tests/integration/test_client_login.c \
	tests/integration/test_client_conn.c \
	tests/integration/test_client_close.c \
	tests/integration/test_client_loop.c \
	tests/integration/test_client_level2.c \
	tests/integration/test_client_level2_broker.c \
	tests/integration/test_client_reconnect.c \
	tests/integration/test_client_request.c
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

# The echo service of libmpclient(3)'s EXAMPLES, compiled from the page as
# written: its main() renamed and its address made the test broker's
# (test_man_example.c runs it).
MAN_EXAMPLE_TESTS = tests/integration/test_man_example
check_PROGRAMS += $(MAN_EXAMPLE_TESTS)
TESTS += $(MAN_EXAMPLE_TESTS)
tests_integration_test_man_example_SOURCES = tests/integration/test_man_example.c
nodist_tests_integration_test_man_example_SOURCES = tests/integration/man_echo.c
tests_integration_test_man_example_CPPFLAGS = $(INTEGRATION_CPPFLAGS)
tests_integration_test_man_example_CFLAGS = $(TEST_CFLAGS) $(LIBEVENT_CFLAGS)
tests_integration_test_man_example_LDADD = libmpclient/libmpclient.la \
	$(INTEGRATION_LDADD) $(LIBEVENT_LIBS)
CLEANFILES += tests/integration/man_echo.c

tests/integration/man_echo.c: $(top_srcdir)/doc/man/libmpclient.3
	$(AM_V_GEN)$(MKDIR_P) tests/integration && { \
	  echo '/* Made from doc/man/libmpclient.3 by tests/client.mk. */'; \
	  echo 'extern const char *man_example_address;'; \
	  echo 'int man_echo_main(void);'; \
	  sed -n '/^An echo service/,/^\.Ed/p' $(top_srcdir)/doc/man/libmpclient.3 | \
	  sed -e '1,/^\.Bd -literal/d' -e '/^\.Ed/d' \
	      -e 's/\\e/\\/g' -e 's/^\\&//' \
	      -e 's/"tcp:127\.0\.0\.1:7330"/man_example_address/' \
	      -e 's/^int main(void)$$/int man_echo_main(void)/'; \
	} > $@.tmp && mv $@.tmp $@

# mpcat's framing splitter on its own: bytes in, messages out, no broker.
check_PROGRAMS += tests/unit/test_mpcat_split
TESTS += tests/unit/test_mpcat_split
tests_unit_test_mpcat_split_SOURCES = tests/unit/test_mpcat_split.c \
	tools/mpcat_split.c tools/mpcat_split.h
tests_unit_test_mpcat_split_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_unit_test_mpcat_split_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_mpcat_split_LDADD = $(TEST_LIBS)
