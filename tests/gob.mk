# Tests of the gob wire format (common/codec_gob.c, translator_gob.so).
# Both replay tests/gob_transcript.h, a copy of the capture of the
# original Go server and clients speaking encoding/gob.
check_PROGRAMS += tests/unit/test_codec_gob tests/integration/test_gob
TESTS += tests/unit/test_codec_gob tests/integration/test_gob

tests_unit_test_codec_gob_SOURCES = tests/unit/test_codec_gob.c \
	tests/unit/codec_check.c tests/unit/codec_check.h \
	tests/gob_transcript.h
tests_unit_test_codec_gob_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_unit_test_codec_gob_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_codec_gob_LDADD = common/libmpcommon.la $(TEST_LIBS)

tests_integration_test_gob_SOURCES = tests/integration/test_gob.c \
	tests/gob_transcript.h
tests_integration_test_gob_CPPFLAGS = $(INTEGRATION_CPPFLAGS) \
	-I$(top_srcdir)/tests
tests_integration_test_gob_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_gob_LDADD = $(INTEGRATION_LDADD)
