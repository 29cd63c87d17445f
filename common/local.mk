# libmpcommon: code shared by the broker, the plugins and (later)
# libmpclient. A convenience library: linked in, never installed.
noinst_LTLIBRARIES += common/libmpcommon.la
common_libmpcommon_la_SOURCES = \
	common/message.c common/message.h \
	common/name.c common/name.h \
	common/log.c common/log.h \
	common/errbuf.c common/errbuf.h \
	common/hashmap.c common/hashmap.h \
	common/base64.c common/base64.h \
	common/codec.h \
	common/codec_json.c \
	common/codec_binary.c \
	common/codec_gob.c \
	common/codec_streams.c \
	common/bev_output.h common/tls_reason.h
common_libmpcommon_la_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS)
common_libmpcommon_la_LIBADD = $(YAJL_LIBS)

# The name:hash password file, shared by auth_passwd and mpbroker-passwd.
noinst_LTLIBRARIES += common/libmppasswd.la
common_libmppasswd_la_SOURCES = common/passwd_file.c common/passwd_file.h
common_libmppasswd_la_LIBADD = common/libmpcommon.la $(CRYPT_LIBS)
