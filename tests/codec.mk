# Unit tests of the wire formats (common/codec_*.c, common/base64.c,
# common/format.c).
check_PROGRAMS += tests/unit/test_codec_json tests/unit/test_codec_binary \
	tests/unit/test_base64
TESTS += tests/unit/test_codec_json tests/unit/test_codec_binary \
	tests/unit/test_base64

tests_unit_test_codec_json_SOURCES = tests/unit/test_codec_json.c \
	tests/unit/codec_check.c tests/unit/codec_check.h
tests_unit_test_codec_json_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_codec_json_LDADD = common/libmpcommon.la $(TEST_LIBS)

tests_unit_test_codec_binary_SOURCES = tests/unit/test_codec_binary.c \
	tests/unit/codec_check.c tests/unit/codec_check.h
tests_unit_test_codec_binary_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_codec_binary_LDADD = common/libmpcommon.la $(TEST_LIBS)

# The protobuf format, against libprotobuf-c as the reference
# (PROTO_REF_*, tests/local.mk).
check_PROGRAMS += tests/unit/test_codec_protobuf
TESTS += tests/unit/test_codec_protobuf
tests_unit_test_codec_protobuf_SOURCES = tests/unit/test_codec_protobuf.c \
	tests/unit/codec_check.c tests/unit/codec_check.h
tests_unit_test_codec_protobuf_CPPFLAGS = $(PROTO_REF_CPPFLAGS)
tests_unit_test_codec_protobuf_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_codec_protobuf_LDADD = common/libmpcommon.la \
	$(PROTO_REF_LIBS) $(TEST_LIBS)
# The generated header is there before the test that includes it.
tests/unit/test_codec_protobuf-test_codec_protobuf.$(OBJEXT): \
	tests/proto/mp.pb-c.h

tests_unit_test_base64_SOURCES = tests/unit/test_base64.c
tests_unit_test_base64_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_base64_LDADD = common/libmpcommon.la $(TEST_LIBS)

# The format registry (common/format.c), and what each plugin links
# (common/local.mk): a translator carries its own codec only.
check_PROGRAMS += tests/unit/test_format tests/unit/test_plugin_deps
TESTS += tests/unit/test_format tests/unit/test_plugin_deps

tests_unit_test_format_SOURCES = tests/unit/test_format.c
tests_unit_test_format_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_format_LDADD = common/libmpcommon.la $(DL_LIBS) $(TEST_LIBS)

tests_unit_test_plugin_deps_SOURCES = tests/unit/test_plugin_deps.c
tests_unit_test_plugin_deps_CPPFLAGS = $(AM_CPPFLAGS) -DMP_NM='"$(NM)"'
tests_unit_test_plugin_deps_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_plugin_deps_LDADD = $(TEST_LIBS)
