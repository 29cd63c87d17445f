# The shipped configuration. Generated so that its paths are the ones this
# build installs to; installed only where no file exists yet, so that
# `make install` never overwrites an admin's config or users.
EXTRA_DIST += conf/mpbroker.conf.in conf/mpbroker.passwd \
	conf/mpbroker.service.in
noinst_DATA = conf/mpbroker.conf conf/mpbroker.service
CLEANFILES += conf/mpbroker.conf conf/mpbroker.service

# The systemd unit, with this build's paths.
conf/mpbroker.service: $(top_srcdir)/conf/mpbroker.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) conf && sed \
		-e 's|@sbindir[@]|$(sbindir)|g' \
		-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		-e 's|@SERVICE_TYPE[@]|$(SERVICE_TYPE)|g' \
		$(top_srcdir)/conf/mpbroker.service.in > $@.tmp && mv $@.tmp $@

if HAVE_SYSTEMD_UNIT
systemdsystemunit_DATA = conf/mpbroker.service
endif
# distcheck installs under its own prefix, never into the real unit dir.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir='$${libdir}/systemd/system'

conf/mpbroker.conf: $(top_srcdir)/conf/mpbroker.conf.in Makefile
	$(AM_V_GEN)$(MKDIR_P) conf && sed \
		-e 's|@pkglibdir[@]|$(pkglibdir)|g' \
		-e 's|@pkgdatadir[@]|$(pkgdatadir)|g' \
		-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		-e 's|@runstatedir[@]|$(runstatedir)|g' \
		$(top_srcdir)/conf/mpbroker.conf.in > $@.tmp && mv $@.tmp $@

install-data-local: conf/mpbroker.conf
	$(MKDIR_P) '$(DESTDIR)$(sysconfdir)'
	@for f in mpbroker.conf mpbroker.passwd; do \
	  if test -f conf/$$f; then src=conf/$$f; else src=$(top_srcdir)/conf/$$f; fi; \
	  if test -e '$(DESTDIR)$(sysconfdir)/'$$f; then \
	    echo "keeping existing $(DESTDIR)$(sysconfdir)/$$f"; \
	  else \
	    echo " $(INSTALL_DATA) $$src '$(DESTDIR)$(sysconfdir)/$$f'"; \
	    $(INSTALL_DATA) $$src '$(DESTDIR)$(sysconfdir)/'$$f || exit 1; \
	  fi; \
	done
	chmod 600 '$(DESTDIR)$(sysconfdir)/mpbroker.passwd' 2>/dev/null || true

# Remove the config and password file only when they are still the
# shipped ones: an admin's edits are never thrown away.
uninstall-local: conf/mpbroker.conf
	@for f in mpbroker.conf mpbroker.passwd; do \
	  if test -f conf/$$f; then src=conf/$$f; else src=$(top_srcdir)/conf/$$f; fi; \
	  dst='$(DESTDIR)$(sysconfdir)/'$$f; \
	  if test -f "$$dst" && cmp -s "$$src" "$$dst"; then \
	    echo " rm -f $$dst"; rm -f "$$dst"; \
	  elif test -e "$$dst"; then \
	    echo "keeping modified $$dst"; \
	  fi; \
	done
