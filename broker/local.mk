# The broker's code lives in a convenience library so that the fuzz
# harnesses (tests/fuzz/) can drive a real session without main().
noinst_LTLIBRARIES += broker/libmpbroker.la
broker_libmpbroker_la_SOURCES = \
	broker/broker.c broker/broker.h \
	broker/xalloc.c broker/xalloc_libevent.c broker/xalloc.h \
	broker/conf.c broker/conf.h \
	broker/conf_schema.c broker/conf_schema.h broker/conf_table.c \
	broker/conf_plugins.c broker/conf_listeners.c broker/conf_sections.h \
	broker/errors.c broker/errors.h \
	broker/plugin_loader.c broker/plugin_loader.h \
	broker/plugin_options.c broker/plugin_options.h \
	broker/auth_chain.c broker/auth_chain.h \
	broker/auth_throttle.c broker/auth_throttle.h \
	broker/cidr.c broker/cidr.h \
	broker/client_log.c broker/client_log.h \
	broker/sources.c broker/sources.h \
	broker/work_pool.c broker/work_pool.h \
	broker/accept_pause.c broker/accept_pause.h \
	broker/listener.c broker/listener.h \
	broker/http_server.c broker/http_server.h \
	broker/tls.c broker/tls.h \
	broker/metrics.c broker/metrics.h broker/stats.h \
	broker/notify.c broker/notify.h \
	broker/privileges.c broker/privileges.h \
	broker/reload.c broker/reload.h \
	broker/user_check.c broker/user_check.h \
	broker/endpoint.c broker/endpoint.h \
	broker/credit.c broker/credit.h \
	broker/flow.c broker/flow.h \
	broker/presence.c broker/presence.h \
	broker/shutdown.c broker/shutdown.h \
	broker/router.c broker/router.h \
	broker/session.c broker/session.h broker/session-internal.h \
	broker/session_output.c broker/session_input.c broker/login.c \
	broker/session_io.c \
	broker/ws_session.c broker/ws_session.h \
	broker/conn_table.c broker/conn_table.h \
	broker/registry.c broker/registry.h broker/registry-internal.h \
	broker/registry_conn.c broker/registry_calls.c broker/registry_lease.c \
	broker/registry_scripts.c broker/registry_scripts.h \
	broker/link_frame.c broker/link_frame.h \
	broker/link.c broker/link.h broker/link-internal.h \
	broker/link_listen.c broker/link_peer.c broker/link_stream.c \
	broker/link_input.c broker/link_handshake.c \
	broker/conf_cluster.c \
	broker/ws_frame.c broker/ws_frame.h \
	broker/ws_handshake.c broker/ws_handshake.h \
	broker/cluster.c broker/cluster.h broker/cluster-internal.h \
	broker/cluster_login.c broker/remote.c broker/remote_input.c \
	common/read_batch.c common/read_batch.h \
	common/malloc_tune.c common/malloc_tune.h
broker_libmpbroker_la_CPPFLAGS = $(AM_CPPFLAGS)
broker_libmpbroker_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBEVENT_OPENSSL_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCONFIG_CFLAGS) \
	$(LIBSYSTEMD_CFLAGS) $(HIREDIS_CFLAGS)
broker_libmpbroker_la_LIBADD = common/libmpcommon.la $(LIBEVENT_OPENSSL_LIBS) \
	$(OPENSSL_LIBS) $(LIBEVENT_LIBS) $(LIBCONFIG_LIBS) $(DL_LIBS) \
	$(LIBSYSTEMD_LIBS) $(HIREDIS_LIBS)

sbin_PROGRAMS += broker/mpbroker
broker_mpbroker_SOURCES = broker/main.c
broker_mpbroker_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMP_DEFAULT_CONFIG='"$(sysconfdir)/mpbroker.conf"' \
	-DMP_DEFAULT_PLUGIN_DIR='"$(pkglibdir)"'
broker_mpbroker_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBCONFIG_CFLAGS)
broker_mpbroker_LDADD = broker/libmpbroker.la
