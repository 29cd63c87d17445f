sbin_PROGRAMS += broker/mpbroker
broker_mpbroker_SOURCES = \
	broker/main.c \
	broker/broker.h \
	broker/conf.c broker/conf.h \
	broker/errors.c broker/errors.h \
	broker/plugin_loader.c broker/plugin_loader.h \
	broker/auth_chain.c broker/auth_chain.h \
	broker/listener.c broker/listener.h \
	broker/session.c broker/session.h \
	broker/router.c broker/router.h \
	broker/conn_table.c broker/conn_table.h
broker_mpbroker_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMP_DEFAULT_CONFIG='"$(sysconfdir)/mpbroker.conf"' \
	-DMP_DEFAULT_PLUGIN_DIR='"$(pkglibdir)"'
broker_mpbroker_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBCONFIG_CFLAGS)
broker_mpbroker_LDADD = common/libmpcommon.la $(LIBEVENT_LIBS) \
	$(LIBCONFIG_LIBS) $(DL_LIBS)
