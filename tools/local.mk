bin_PROGRAMS += tools/mpbroker-passwd
tools_mpbroker_passwd_SOURCES = tools/mpbroker-passwd.c
tools_mpbroker_passwd_LDADD = common/libmppasswd_update.la

bin_PROGRAMS += tools/mpcat
tools_mpcat_SOURCES = tools/mpcat.c tools/mpcat.h tools/mpcat_args.c \
	tools/mpcat_echo.c tools/mpcat_presence.c tools/mpcat_request.c \
	tools/mpcat_input.c tools/mpcat_split.c tools/mpcat_split.h
tools_mpcat_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
# libmpcommon for mp_name_check: mpcat checks -n and PEER by the broker's
# own rules before connecting (libmpclient does not export it).
tools_mpcat_LDADD = libmpclient/libmpclient.la common/libmpcommon.la \
	$(LIBEVENT_LIBS)
