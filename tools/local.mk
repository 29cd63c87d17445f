bin_PROGRAMS += tools/mpbroker-passwd
tools_mpbroker_passwd_SOURCES = tools/mpbroker-passwd.c
tools_mpbroker_passwd_LDADD = common/libmppasswd.la

bin_PROGRAMS += tools/mpcat
tools_mpcat_SOURCES = tools/mpcat.c
tools_mpcat_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tools_mpcat_LDADD = libmpclient/libmpclient.la $(LIBEVENT_LIBS)
