# Examples to copy: built by `make`, never installed.
noinst_PROGRAMS += examples/echo_server examples/echo_client examples/chat \
	examples/rr_server examples/rr_client
EXAMPLE_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
EXAMPLE_LDADD = libmpclient/libmpclient.la $(LIBEVENT_LIBS)

examples_echo_server_SOURCES = examples/echo_server.c
examples_echo_server_CFLAGS = $(EXAMPLE_CFLAGS)
examples_echo_server_LDADD = $(EXAMPLE_LDADD)

examples_echo_client_SOURCES = examples/echo_client.c
examples_echo_client_CFLAGS = $(EXAMPLE_CFLAGS)
examples_echo_client_LDADD = $(EXAMPLE_LDADD)

examples_chat_SOURCES = examples/chat.c
examples_chat_CFLAGS = $(EXAMPLE_CFLAGS)
examples_chat_LDADD = $(EXAMPLE_LDADD)

examples_rr_server_SOURCES = examples/rr_server.c
examples_rr_server_CFLAGS = $(EXAMPLE_CFLAGS)
examples_rr_server_LDADD = $(EXAMPLE_LDADD)

examples_rr_client_SOURCES = examples/rr_client.c
examples_rr_client_CFLAGS = $(EXAMPLE_CFLAGS)
examples_rr_client_LDADD = $(EXAMPLE_LDADD)

# The plugin example: a loadable module like the shipped ones (-rpath
# makes libtool build it shared although it is not installed).
noinst_LTLIBRARIES += examples/auth_plugin.la
examples_auth_plugin_la_SOURCES = examples/auth_plugin.c
examples_auth_plugin_la_LDFLAGS = $(PLUGIN_LDFLAGS) -rpath /nowhere

EXTRA_DIST += examples/README.md examples/Makefile.example
