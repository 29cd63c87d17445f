# Unit tests of the wire formats (common/codec_*.c, common/base64.c).
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

tests_unit_test_base64_SOURCES = tests/unit/test_base64.c
tests_unit_test_base64_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_base64_LDADD = common/libmpcommon.la $(TEST_LIBS)
