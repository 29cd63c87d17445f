# libFuzzer harnesses (configure --enable-fuzzing, CC=clang). Built by
# `make` in a fuzzing build only; tools/fuzz.sh builds and runs them, and
# tests/fuzz/README.md says how to run one by hand.
FUZZ_SESSION_PLUGINS = plugins/translator_json.la \
	plugins/translator_binary.la plugins/auth_allow_all.la
FUZZ_CONFIG_PLUGINS = $(FUZZ_SESSION_PLUGINS) plugins/auth_passwd.la \
	plugins/acl.la

if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_json tests/fuzz/fuzz_binary tests/fuzz/fuzz_gob \
	tests/fuzz/fuzz_config tests/fuzz/fuzz_session tests/fuzz/fuzz_passwd \
	tests/fuzz/fuzz_acl tests/fuzz/fuzz_http tests/fuzz/fuzz_link_frame \
	tests/fuzz/fuzz_ws tests/fuzz/fuzz_ws_handshake tests/fuzz/fuzz_protobuf

FUZZ_HARNESS_COMPILE = $(AM_CFLAGS) $(FUZZ_CFLAGS)
FUZZ_HARNESS_LINK = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
# The broker harnesses load the build's own plugins (fuzz_plugins.h).
FUZZ_BROKER_INCLUDES = $(AM_CPPFLAGS) -I$(top_srcdir)/broker \
	-DMP_FUZZ_PLUGIN_DIR='"$(abs_top_builddir)/plugins/.libs"'
FUZZ_BROKER_COMPILE = $(FUZZ_HARNESS_COMPILE) $(LIBEVENT_CFLAGS) \
	$(LIBCONFIG_CFLAGS)

tests_fuzz_fuzz_json_SOURCES = tests/fuzz/fuzz_json.c \
	tests/fuzz/fuzz_codec.c tests/fuzz/fuzz_codec.h \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_json_CFLAGS = $(FUZZ_HARNESS_COMPILE)
tests_fuzz_fuzz_json_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_json_LDADD = common/libmpcommon.la

tests_fuzz_fuzz_gob_SOURCES = tests/fuzz/fuzz_gob.c \
	tests/fuzz/fuzz_codec.c tests/fuzz/fuzz_codec.h \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_gob_CFLAGS = $(FUZZ_HARNESS_COMPILE)
tests_fuzz_fuzz_gob_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_gob_LDADD = common/libmpcommon.la

tests_fuzz_fuzz_binary_SOURCES = tests/fuzz/fuzz_binary.c \
	tests/fuzz/fuzz_codec.c tests/fuzz/fuzz_codec.h \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_binary_CFLAGS = $(FUZZ_HARNESS_COMPILE)
tests_fuzz_fuzz_binary_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_binary_LDADD = common/libmpcommon.la

# Differential against libprotobuf-c (PROTO_REF_*, tests/local.mk): only
# this harness links it and protoc-c's code.
tests_fuzz_fuzz_protobuf_SOURCES = tests/fuzz/fuzz_protobuf.c \
	tests/fuzz/fuzz_codec.c tests/fuzz/fuzz_codec.h \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_protobuf_CPPFLAGS = $(PROTO_REF_CPPFLAGS)
tests_fuzz_fuzz_protobuf_CFLAGS = $(FUZZ_HARNESS_COMPILE)
tests_fuzz_fuzz_protobuf_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_protobuf_LDADD = common/libmpcommon.la $(PROTO_REF_LIBS)
# The generated header is there before the harness that includes it.
tests/fuzz/fuzz_protobuf-fuzz_protobuf.$(OBJEXT): \
	tests/proto/mp.pb-c.h

tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c \
	tests/fuzz/fuzz_plugins.h tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_config_CPPFLAGS = $(FUZZ_BROKER_INCLUDES)
tests_fuzz_fuzz_config_CFLAGS = $(FUZZ_BROKER_COMPILE)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_config_LDADD = broker/libmpbroker.la
EXTRA_tests_fuzz_fuzz_config_DEPENDENCIES = $(FUZZ_CONFIG_PLUGINS)

tests_fuzz_fuzz_session_SOURCES = tests/fuzz/fuzz_session.c \
	tests/fuzz/fuzz_plugins.h tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_session_CPPFLAGS = $(FUZZ_BROKER_INCLUDES)
tests_fuzz_fuzz_session_CFLAGS = $(FUZZ_BROKER_COMPILE)
tests_fuzz_fuzz_session_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_session_LDADD = broker/libmpbroker.la
EXTRA_tests_fuzz_fuzz_session_DEPENDENCIES = $(FUZZ_SESSION_PLUGINS)

tests_fuzz_fuzz_passwd_SOURCES = tests/fuzz/fuzz_passwd.c \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_passwd_CFLAGS = $(FUZZ_HARNESS_COMPILE)
tests_fuzz_fuzz_passwd_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_passwd_LDADD = common/libmppasswd.la

# The acl plugin's code is compiled into the harness, which plays the host.
tests_fuzz_fuzz_acl_SOURCES = tests/fuzz/fuzz_acl.c plugins/acl.c \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_acl_CFLAGS = $(FUZZ_HARNESS_COMPILE)
tests_fuzz_fuzz_acl_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_acl_LDADD = common/libmpcommon.la

# The metrics listener's HTTP front; no plugin is loaded.
tests_fuzz_fuzz_http_SOURCES = tests/fuzz/fuzz_http.c \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_http_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_fuzz_fuzz_http_CFLAGS = $(FUZZ_BROKER_COMPILE)
tests_fuzz_fuzz_http_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_http_LDADD = broker/libmpbroker.la

# The cluster's link frames: the codec alone, no libevent.
tests_fuzz_fuzz_link_frame_SOURCES = tests/fuzz/fuzz_link_frame.c \
	broker/link_frame.c broker/link_frame.h \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_link_frame_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_fuzz_fuzz_link_frame_CFLAGS = $(FUZZ_HARNESS_COMPILE)
tests_fuzz_fuzz_link_frame_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_link_frame_LDADD = common/libmpcommon.la

# WebSocket frames and the opening handshake: the parsers alone.
tests_fuzz_fuzz_ws_SOURCES = tests/fuzz/fuzz_ws.c \
	broker/ws_frame.c broker/ws_frame.h \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_ws_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_fuzz_fuzz_ws_CFLAGS = $(FUZZ_HARNESS_COMPILE)
tests_fuzz_fuzz_ws_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_ws_LDADD = common/libmpcommon.la

tests_fuzz_fuzz_ws_handshake_SOURCES = tests/fuzz/fuzz_ws_handshake.c \
	broker/ws_handshake.c broker/ws_handshake.h \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_ws_handshake_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/broker
tests_fuzz_fuzz_ws_handshake_CFLAGS = $(FUZZ_HARNESS_COMPILE) $(OPENSSL_CFLAGS)
tests_fuzz_fuzz_ws_handshake_LDFLAGS = $(FUZZ_HARNESS_LINK)
tests_fuzz_fuzz_ws_handshake_LDADD = common/libmpcommon.la $(OPENSSL_LIBS)
endif

# Distributed whatever the configuration, so that a tarball can fuzz.
EXTRA_DIST += tools/fuzz.sh tests/fuzz/README.md tests/fuzz/corpus \
	tests/fuzz/fuzz_json.c tests/fuzz/fuzz_binary.c tests/fuzz/fuzz_gob.c \
	tests/fuzz/fuzz_config.c tests/fuzz/fuzz_session.c \
	tests/fuzz/fuzz_passwd.c tests/fuzz/fuzz_acl.c tests/fuzz/fuzz_http.c \
	tests/fuzz/fuzz_codec.c tests/fuzz/fuzz_codec.h \
	tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h tests/fuzz/fuzz_plugins.h \
	tests/fuzz/fuzz_json.dict tests/fuzz/fuzz_binary.dict tests/fuzz/fuzz_gob.dict \
	tests/fuzz/fuzz_config.dict tests/fuzz/fuzz_session.dict \
	tests/fuzz/fuzz_passwd.dict tests/fuzz/fuzz_acl.dict \
	tests/fuzz/fuzz_http.dict \
	tests/fuzz/fuzz_link_frame.c tests/fuzz/fuzz_link_frame.dict \
	tests/fuzz/fuzz_ws.c tests/fuzz/fuzz_ws.dict \
	tests/fuzz/fuzz_ws_handshake.c tests/fuzz/fuzz_ws_handshake.dict \
	tests/fuzz/fuzz_protobuf.c tests/fuzz/fuzz_protobuf.dict
