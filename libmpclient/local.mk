# libmpclient: the C client library, installed with its header and a
# pkg-config file.
lib_LTLIBRARIES = libmpclient/libmpclient.la
mpinclude_HEADERS += include/mp/client.h

# In the order a message travels; client-internal.h has the module map.
libmpclient_libmpclient_la_SOURCES = \
	libmpclient/client-internal.h \
	libmpclient/client.c \
	libmpclient/login.c \
	libmpclient/link.c \
	libmpclient/send.c \
	libmpclient/outq.c \
	libmpclient/conn.c \
	libmpclient/handlers.c \
	libmpclient/credit.c \
	libmpclient/presence.c \
	libmpclient/notices.c \
	libmpclient/reconnect.c \
	libmpclient/request.c \
	libmpclient/address.c \
	libmpclient/dialer.c libmpclient/dialer.h \
	libmpclient/tls.c \
	libmpclient/strerror.c
libmpclient_libmpclient_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBEVENT_OPENSSL_CFLAGS) $(OPENSSL_CFLAGS)
libmpclient_libmpclient_la_LIBADD = common/libmpcommon.la \
	$(LIBEVENT_OPENSSL_LIBS) $(OPENSSL_LIBS) $(LIBEVENT_LIBS)
# -version-info CURRENT:REVISION:AGE, the libtool rule: when a release
# changes the library's code, REVISION++; when it changes the interface,
# CURRENT++ and REVISION=0; when it only added interfaces, AGE++; when it
# removed or changed any, AGE=0. Never tie these numbers to the package
# version.
#   0:0:0  mpbroker 0.1
#   1:0:1  mpbroker 0.2: tls: addresses, max_queued, mp_client_queued,
#          mp_client_on_drained (options struct grown; 0.1 sizes accepted)
#   2:0:2  mpbroker 0.3: max_queued_per_conn, keepalive_s, idle_timeout_ms,
#          max_incoming_conns,
#          mp_conn_queued, mp_conn_on_drained, mp_client_lost_reason
#          (options struct grown; 0.1 and 0.2 sizes accepted)
#   3:0:3  mpbroker 0.5: protocol level 2 - protocol_level,
#          receive_window, manual_credit; mp_client_level,
#          mp_client_window, mp_client_max_watches, mp_conn_credit,
#          mp_conn_set_manual_credit, mp_conn_grant, mp_client_on_presence,
#          mp_client_(un)watch(_prefix), mp_client_list,
#          mp_client_on_going_away, mp_client_open_reason; errors -21 to
#          -25, MP_CLOSE_DATA_DROPPED (options struct grown; older sizes
#          accepted)
#   4:0:4  mpbroker 0.6: addresses, n_addresses, reconnect,
#          reconnect_initial_ms, reconnect_max_ms, reconnect_max_attempts;
#          mp_client_on_interrupted, mp_client_on_reconnecting,
#          mp_client_on_reconnected, mp_client_address,
#          mp_client_request, mp_client_handle_requests; errors -26 and
#          -27 (options struct grown; older sizes accepted)
libmpclient_libmpclient_la_LDFLAGS = $(AM_LDFLAGS) -version-info 4:0:4 \
	-export-symbols-regex '^mp_(client_|conn_|strerror$$|close_reason_string$$)'

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = libmpclient/libmpclient.pc examples/mpbroker-plugin.pc
DISTCLEANFILES += libmpclient/libmpclient.pc examples/mpbroker-plugin.pc
