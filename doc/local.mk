EXTRA_DIST += doc/protocol.md doc/plugins.md doc/config.md doc/mpcat.md doc/security.md \
	doc/hacking.md
