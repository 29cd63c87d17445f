# The acl authenticator: rules on who may open which protocol to whom.
pkglib_LTLIBRARIES += plugins/acl.la

plugins_acl_la_SOURCES = plugins/acl.c
plugins_acl_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_acl_la_LIBADD = common/libmpbase.la
