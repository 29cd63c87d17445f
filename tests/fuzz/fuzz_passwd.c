/*
 * fuzz_passwd.c - libFuzzer harness for the password file parser
 * (common/passwd_file.c, mp_passwd_parse): the input is a passwd file.
 *
 * The parser is checked against an independent reading of the same bytes,
 * written from the format in passwd_file.h rather than from the code:
 *  - lines end at '\n'; an empty line, one of spaces and tabs only, and
 *    one whose first byte is '#' are skipped;
 *  - every other line is NAME:HASH, split at its first ':'.
 * When the parser accepts a file, each such line must be a user whose
 * lookup gives back exactly its HASH, names must be unique and valid, and
 * the count must match; when it refuses one, the reason must name the
 * file and line, and the line must really be wrong (or a name repeated).
 *
 * Hashes are never computed from the input: a setting such as
 * "$6$rounds=999999999$" would make one execution last minutes. The
 * harness only calls mp_passwd_verify() with secrets the parser refuses
 * to hash (a NUL byte, too long), which answer without crypt(3).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "passwd_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH "fuzz.passwd"

/* A line of the input that is not skipped: NAME:HASH, or no ':' at all. */
struct user_line {
    const char *name, *hash;
    size_t name_len, hash_len;
    size_t lineno;
    bool has_colon;
};

static bool skipped(const char *s, size_t len)
{
    if (len == 0 || s[0] == '#')
        return true;
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* The non-skipped lines of text, in order; the caller frees the array. */
static struct user_line *read_lines(const char *text, size_t len, size_t *n)
{
    struct user_line *lines = NULL;
    size_t count = 0, pos = 0, lineno = 0;

    while (pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl != NULL ? (size_t)(nl - s) : len - pos;

        pos += l + (nl != NULL);
        lineno++;
        if (skipped(s, l))
            continue;
        lines = realloc(lines, (count + 1) * sizeof *lines);
        FUZZ_CHECK(lines != NULL, "out of memory");
        const char *colon = memchr(s, ':', l);
        lines[count] = (struct user_line){
            .name = s, .name_len = colon ? (size_t)(colon - s) : l,
            .hash = colon ? colon + 1 : NULL,
            .hash_len = colon ? l - (size_t)(colon - s) - 1 : 0,
            .lineno = lineno, .has_colon = colon != NULL};
        count++;
    }
    *n = count;
    return lines;
}

static void check_accepted(const struct mp_passwd *pw,
                           const struct user_line *lines, size_t n)
{
    static const unsigned char nul_secret[] = {'p', 0, 'w'};
    static unsigned char long_secret[MP_PASSWD_SECRET_MAX + 1];

    FUZZ_CHECK(mp_passwd_count(pw) == n, "%zu users for %zu user lines",
               mp_passwd_count(pw), n);
    FUZZ_CHECK(mp_passwd_legacy_count(pw) <= n, "more legacy users than users");
    for (size_t i = 0; i < n; i++) {
        const struct user_line *u = &lines[i];
        const char *hash;

        FUZZ_CHECK(u->has_colon, "line %zu has no ':' but was accepted",
                   u->lineno);
        FUZZ_CHECK(mp_passwd_name_check(u->name, u->name_len) == NULL,
                   "line %zu: an invalid name was accepted", u->lineno);
        hash = mp_passwd_lookup(pw, u->name, u->name_len);
        FUZZ_CHECK(hash != NULL, "line %zu: its user is not found", u->lineno);
        FUZZ_CHECK(strlen(hash) == u->hash_len &&
                       memcmp(hash, u->hash, u->hash_len) == 0,
                   "line %zu: the user's hash is not the line's", u->lineno);
        FUZZ_CHECK(hash[0] == '$', "line %zu: a hash without '$'", u->lineno);
        /* Unhashable secrets: answered without crypt(3), same for all. */
        FUZZ_CHECK(mp_passwd_verify(pw, u->name, u->name_len, nul_secret,
                                    sizeof nul_secret) == MP_PASSWD_MISMATCH,
                   "line %zu: a secret with a NUL byte did not mismatch",
                   u->lineno);
        FUZZ_CHECK(mp_passwd_verify(pw, u->name, u->name_len, long_secret,
                                    sizeof long_secret) == MP_PASSWD_MISMATCH,
                   "line %zu: a too long secret did not mismatch", u->lineno);
    }
    /* A name that cannot be in any file (it holds ':'). */
    FUZZ_CHECK(mp_passwd_lookup(pw, "no:one", 6) == NULL, "found 'no:one'");
    FUZZ_CHECK(mp_passwd_verify(pw, "no:one", 6, nul_secret,
                                sizeof nul_secret) == MP_PASSWD_UNKNOWN,
               "an unknown name did not answer UNKNOWN");
}

static bool name_repeated(const struct user_line *lines, size_t n, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (lines[j].name_len == lines[i].name_len &&
            memcmp(lines[j].name, lines[i].name, lines[i].name_len) == 0)
            return true;
    return false;
}

/* "fuzz.passwd:N: ..." and line N is wrong: no ':', a bad name, a bad
 * hash (the parser's own call, crypt_checksalt, is the oracle for method
 * support), or a name seen before. */
static void check_refused(const char *err, const struct user_line *lines,
                          size_t n)
{
    size_t lineno = 0;
    char rest = 0;

    FUZZ_CHECK(sscanf(err, PATH ":%zu:%c", &lineno, &rest) == 2,
               "the error does not name the file and line: %s", err);
    for (size_t i = 0; i < n; i++) {
        const struct user_line *u = &lines[i];

        if (u->lineno != lineno)
            continue;
        FUZZ_CHECK(!u->has_colon || u->hash_len == 0 ||
                       memchr(u->name, '\0', u->name_len + 1 + u->hash_len) ||
                       mp_passwd_name_check(u->name, u->name_len) != NULL ||
                       u->hash[0] != '$' || u->hash_len >= MP_PASSWD_HASH_MAX ||
                       strstr(err, "hash") != NULL ||
                       strstr(err, "carriage return") != NULL ||
                       name_repeated(lines, n, i),
                   "line %zu refused but looks right: %s", lineno, err);
        return;
    }
    FUZZ_CHECK(false, "the error names line %zu, which is skipped or absent: "
               "%s", lineno, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct mp_passwd *pw = NULL;
    struct user_line *lines;
    char err[512];
    size_t n;

    err[0] = '\0';
    lines = read_lines(text, size, &n);
    if (mp_passwd_parse(PATH, text, size, &pw, err, sizeof err) == 0) {
        FUZZ_CHECK(pw != NULL, "success without a table");
        check_accepted(pw, lines, n);
        mp_passwd_free(pw);
    } else if (strstr(err, "out of memory") == NULL) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0',
                   "a refusal without a reason");
        check_refused(err, lines, n);
    }
    free(lines);
    return 0;
}
