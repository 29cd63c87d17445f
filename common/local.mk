# common/: code shared by the broker, libmpclient, the plugins and the
# tools, as libtool convenience libraries (linked in, never installed).
#
# libtool links a convenience library *whole* into a shared object (a
# plugin, libmpclient.so), whatever it uses of it; only programs take just
# the objects they need. So what a plugin links is kept small: a plugin
# links libmpbase and its own pieces, never libmpcommon. Measured when
# this was split (x86-64, gcc -O2 -g, text of size(1)): each
# translator_*.so held all three codecs and needed libyajl, 34 KB; now
# json 16 KB, gob 14 KB, binary 6 KB, and only json needs libyajl (acl.so
# 39 -> 9 KB, auth_passwd.so 49 -> 14 KB). tests/unit/test_plugin_deps
# checks that it stays so.

# What every other piece builds on: messages, names, error buffers.
noinst_LTLIBRARIES += common/libmpbase.la
common_libmpbase_la_SOURCES = \
	common/message.c common/message.h \
	common/name.c common/name.h \
	common/errbuf.c common/errbuf.h \
	common/codec.h

# One library per wire format, for its translator plugin (with libmpbase).
noinst_LTLIBRARIES += common/libmpcodec_json.la \
	common/libmpcodec_binary.la common/libmpcodec_gob.la \
	common/libmpcodec_protobuf.la
common_libmpcodec_json_la_SOURCES = common/codec_json.c \
	common/base64.c common/base64.h
common_libmpcodec_json_la_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS)
common_libmpcodec_json_la_LIBADD = $(YAJL_LIBS)
common_libmpcodec_binary_la_SOURCES = common/codec_binary.c
common_libmpcodec_gob_la_SOURCES = common/codec_gob.c
common_libmpcodec_protobuf_la_SOURCES = common/codec_protobuf.c

# libmpcommon: all of the above and the rest (logging, the hash map, the
# format registry), for the broker, libmpclient, the tools and the tests.
noinst_LTLIBRARIES += common/libmpcommon.la
common_libmpcommon_la_SOURCES = \
	common/log.c common/log.h \
	common/hashmap.c common/hashmap.h \
	common/format.c common/format.h \
	common/codec_find.c \
	common/codec_streams.c \
	common/bev_output.h common/tls_reason.h
common_libmpcommon_la_LIBADD = common/libmpbase.la \
	common/libmpcodec_json.la common/libmpcodec_binary.la \
	common/libmpcodec_gob.la common/libmpcodec_protobuf.la

# The name:hash password file: reading it (auth_passwd.so links only
# this), and writing it (mpbroker-passwd).
noinst_LTLIBRARIES += common/libmppasswd.la
common_libmppasswd_la_SOURCES = common/passwd_file.c common/passwd_file.h \
	common/passwd_internal.h
common_libmppasswd_la_LIBADD = common/libmpbase.la $(CRYPT_LIBS)

noinst_LTLIBRARIES += common/libmppasswd_update.la
common_libmppasswd_update_la_SOURCES = common/passwd_update.c \
	common/passwd_update.h
common_libmppasswd_update_la_LIBADD = common/libmppasswd.la
