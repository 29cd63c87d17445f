bin_PROGRAMS += tools/mpbroker-passwd
tools_mpbroker_passwd_SOURCES = tools/mpbroker-passwd.c
tools_mpbroker_passwd_LDADD = common/libmppasswd.la
