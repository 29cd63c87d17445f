/* Unit tests: client name and connection id rules (common/name.c). */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>

#include "name.h"

static const char *check(const char *name)
{
    return mp_name_check(name, strlen(name));
}

Test(name, accepts_ordinary_names)
{
    cr_assert_null(check("alice"));
    cr_assert_null(check("goecho56782"));
    cr_assert_null(check("a"));
    cr_assert_null(check("caf\xc3\xa9"), "UTF-8 letters are fine");
    cr_assert_null(check("with space-and_dots.x@y"));
}

Test(name, rejects_empty)
{
    cr_assert_not_null(mp_name_check("", 0));
}

Test(name, rejects_colon)
{
    cr_assert_not_null(check("a:b"));
    cr_assert_not_null(check(":"));
    cr_assert_not_null(check("alice:"));
}

Test(name, length_limit_is_255_bytes)
{
    char name[300];

    memset(name, 'n', sizeof name);
    cr_assert_null(mp_name_check(name, 255));
    cr_assert_not_null(mp_name_check(name, 256));
}

Test(name, rejects_control_characters_and_nul)
{
    cr_assert_not_null(check("a\nb"));
    cr_assert_not_null(check("a\tb"));
    cr_assert_not_null(check("a\x7f"));
    cr_assert_not_null(mp_name_check("a\0b", 3));
}

Test(name, rejects_invalid_utf8)
{
    cr_assert_not_null(check("\xff"));
    cr_assert_not_null(check("\xc3"), "truncated sequence");
    cr_assert_not_null(check("\xc0\xaf"), "overlong encoding");
    cr_assert_not_null(check("\xed\xa0\x80"), "surrogate");
    cr_assert_not_null(check("\xf4\x90\x80\x80"), "past U+10FFFF");
}

Test(utf8, validates_sequences)
{
    cr_assert(mp_utf8_valid((const unsigned char *)"", 0));
    cr_assert(mp_utf8_valid((const unsigned char *)"\xe2\x82\xac", 3));
    cr_assert(mp_utf8_valid((const unsigned char *)"\xf0\x9f\x98\x80", 4));
    cr_assert_not(mp_utf8_valid((const unsigned char *)"\xe2\x82", 2));
    cr_assert_not(mp_utf8_valid((const unsigned char *)"\x80", 1));
}

Test(connection_id, must_start_with_initiator_and_colon)
{
    cr_assert(mp_connection_id_is_from("alice:0", 7, "alice", 5));
    cr_assert(mp_connection_id_is_from("alice:ff", 8, "alice", 5));
    cr_assert_not(mp_connection_id_is_from("bob:0", 5, "alice", 5));
    cr_assert_not(mp_connection_id_is_from("alice0", 6, "alice", 5));
    cr_assert_not(mp_connection_id_is_from("alicex:0", 8, "alice", 5),
                  "a longer name sharing the prefix");
    cr_assert_not(mp_connection_id_is_from("alice:", 6, "alice", 5),
                  "the suffix must not be empty");
    cr_assert_not(mp_connection_id_is_from("ali", 3, "alice", 5));
}
