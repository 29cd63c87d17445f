# The shipped plugins, installed to $(pkglibdir).
pkglib_LTLIBRARIES += \
	plugins/translator_json.la \
	plugins/translator_binary.la \
	plugins/translator_gob.la \
	plugins/translator_protobuf.la \
	plugins/auth_allow_all.la \
	plugins/auth_passwd.la

plugins_translator_json_la_SOURCES = plugins/translator_json.c
plugins_translator_json_la_LDFLAGS = $(PLUGIN_LDFLAGS)
# Each translator carries its own codec only (see common/local.mk).
plugins_translator_json_la_LIBADD = common/libmpcodec_json.la \
	common/libmpbase.la

plugins_translator_binary_la_SOURCES = plugins/translator_binary.c
plugins_translator_binary_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_translator_binary_la_LIBADD = common/libmpcodec_binary.la \
	common/libmpbase.la

plugins_translator_gob_la_SOURCES = plugins/translator_gob.c
plugins_translator_gob_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_translator_gob_la_LIBADD = common/libmpcodec_gob.la \
	common/libmpbase.la

plugins_translator_protobuf_la_SOURCES = plugins/translator_protobuf.c
plugins_translator_protobuf_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_translator_protobuf_la_LIBADD = common/libmpcodec_protobuf.la \
	common/libmpbase.la

plugins_auth_allow_all_la_SOURCES = plugins/auth_allow_all.c
plugins_auth_allow_all_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_auth_passwd_la_SOURCES = plugins/auth_passwd.c
plugins_auth_passwd_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_auth_passwd_la_LIBADD = common/libmppasswd.la

pkglib_LTLIBRARIES += plugins/auth_cert.la
plugins_auth_cert_la_SOURCES = plugins/auth_cert.c
plugins_auth_cert_la_LDFLAGS = $(PLUGIN_LDFLAGS)
