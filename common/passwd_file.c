/*
 * passwd_file.c - reading the `name:hash` password file: parse, look up,
 * verify (see passwd_file.h). All that auth_passwd.so links; writing the
 * file is passwd_update.c's, for mpbroker-passwd only.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "name.h"
#include "passwd_file.h"
#include "passwd_internal.h"

#if MP_PASSWD_HASH_MAX != CRYPT_OUTPUT_SIZE
#error "MP_PASSWD_HASH_MAX must equal CRYPT_OUTPUT_SIZE"
#endif
#if MP_PASSWD_SECRET_MAX + 1 != CRYPT_MAX_PASSPHRASE_SIZE
#error "MP_PASSWD_SECRET_MAX must be CRYPT_MAX_PASSPHRASE_SIZE - 1"
#endif

/*
 * Hashed against when the name is unknown and the file has no user, so that
 * an empty file answers as slowly as a full one. A yescrypt hash of random
 * bytes nobody kept.
 */
static const char fallback_dummy_hash[] =
    "$y$j9T$V/IQvlAo1td9loUiTVOHK/$3i4z6j5cfL9y.WQQMgnL4AYx1.4ZRBFpsBoAtw8BxN9";

struct entry {
    char *name;       /* one allocation: name, NUL, hash, NUL */
    size_t name_len;
    const char *hash; /* points into the same allocation */
    size_t line;
    bool legacy;
};

struct mp_passwd {
    struct entry *entries; /* sorted by name (bytes, then length) */
    size_t count;
    size_t legacy;
    const char *dummy_hash; /* settings when the file has no user */
    uint64_t dummy_key;     /* picks an entry for an unknown name */
};

/* ---------------------------------------------------------------------- */
/* Names and hashes */

const char *mp_passwd_name_check(const char *name, size_t len)
{
    /* The broker would take such a name, but its line would read back as
     * a comment. */
    if (len > 0 && name[0] == '#')
        return "name starts with '#'";
    return mp_name_check(name, len);
}

const char *passwd_hash_check(const char *hash, size_t len, bool *legacy)
{
    char copy[MP_PASSWD_HASH_MAX];

    if (len == 0)
        return "expected NAME:HASH";
    if (hash[len - 1] == '\r')
        return "line ends with a carriage return (DOS line endings?)";
    if (hash[0] != '$')
        return "hash is not a crypt(3) hash (it must start with '$')";
    if (len >= sizeof copy)
        return "hash is too long";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)hash[i];
        if (c <= ' ' || c >= 0x7f)
            return "hash contains a space, a control or a non-ASCII byte";
        if (c == ':')
            return "hash contains ':'";
    }
    memcpy(copy, hash, len);
    copy[len] = '\0';
    switch (crypt_checksalt(copy)) {
    case CRYPT_SALT_OK:
        *legacy = false;
        return NULL;
    case CRYPT_SALT_METHOD_LEGACY:
        *legacy = true;
        return NULL;
    case CRYPT_SALT_METHOD_DISABLED:
        return "hash method is disabled in this libcrypt";
    default:
        return "hash is not of a method this libcrypt supports";
    }
}

/* ---------------------------------------------------------------------- */
/* Lines */

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

enum line_kind passwd_parse_line(const char *s, size_t len, struct line *l)
{
    const char *colon;

    memset(l, 0, sizeof *l);
    if (len == 0 || s[0] == '#' || is_blank(s, len))
        return LINE_SKIP;
    if (memchr(s, '\0', len) != NULL) {
        l->why = "line contains a NUL byte";
        return LINE_BAD;
    }
    colon = memchr(s, ':', len);
    if (colon == NULL) {
        l->why = "expected NAME:HASH";
        return LINE_BAD;
    }
    l->name = s;
    l->name_len = (size_t)(colon - s);
    l->hash = colon + 1;
    l->hash_len = len - l->name_len - 1;
    l->why = mp_passwd_name_check(l->name, l->name_len);
    if (l->why == NULL)
        l->why = passwd_hash_check(l->hash, l->hash_len, &l->legacy);
    return l->why == NULL ? LINE_USER : LINE_BAD;
}

bool passwd_next_line(const char *text, size_t len, size_t *pos,
                      const char **line, size_t *line_len)
{
    const char *nl;

    if (*pos >= len)
        return false;
    *line = text + *pos;
    nl = memchr(*line, '\n', len - *pos);
    *line_len = nl != NULL ? (size_t)(nl - *line) : len - *pos;
    *pos += *line_len + (nl != NULL);
    return true;
}

/* ---------------------------------------------------------------------- */
/* The table */

static int entry_cmp_key(const char *a, size_t alen, const char *b,
                         size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

/* Sort by name, then by line so that duplicates sit in file order. */
static int entry_cmp(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    int c = entry_cmp_key(a->name, a->name_len, b->name, b->name_len);

    if (c != 0)
        return c;
    return (a->line > b->line) - (a->line < b->line);
}

struct key {
    const char *name;
    size_t len;
};

static int key_cmp(const void *pk, const void *pe)
{
    const struct key *k = pk;
    const struct entry *e = pe;

    return entry_cmp_key(k->name, k->len, e->name, e->name_len);
}

void mp_passwd_free(struct mp_passwd *pw)
{
    if (pw == NULL)
        return;
    for (size_t i = 0; i < pw->count; i++)
        free(pw->entries[i].name);
    free(pw->entries);
    free(pw);
}

size_t mp_passwd_count(const struct mp_passwd *pw)
{
    return pw->count;
}

size_t mp_passwd_legacy_count(const struct mp_passwd *pw)
{
    return pw->legacy;
}

static int table_add(struct mp_passwd *pw, size_t *cap, const struct line *l,
                     size_t lineno)
{
    struct entry *e;
    char *block;

    if (pw->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct entry *n = realloc(pw->entries, ncap * sizeof *n);
        if (n == NULL)
            return -1;
        pw->entries = n;
        *cap = ncap;
    }
    block = malloc(l->name_len + l->hash_len + 2);
    if (block == NULL)
        return -1;
    memcpy(block, l->name, l->name_len);
    block[l->name_len] = '\0';
    memcpy(block + l->name_len + 1, l->hash, l->hash_len);
    block[l->name_len + 1 + l->hash_len] = '\0';

    e = &pw->entries[pw->count++];
    e->name = block;
    e->name_len = l->name_len;
    e->hash = block + l->name_len + 1;
    e->line = lineno;
    e->legacy = l->legacy;
    pw->legacy += l->legacy;
    return 0;
}

/* After sorting: report the repeated line that comes first in the file. */
static int check_duplicates(const struct mp_passwd *pw, const char *path,
                            char *err, size_t errlen)
{
    const struct entry *dup = NULL, *first = NULL;

    for (size_t i = 1; i < pw->count; i++) {
        const struct entry *a = &pw->entries[i - 1], *b = &pw->entries[i];
        if (a->name_len == b->name_len &&
            memcmp(a->name, b->name, a->name_len) == 0 &&
            (dup == NULL || b->line < dup->line)) {
            dup = b;
            first = a;
        }
    }
    if (dup == NULL)
        return 0;
    /* Sorted by (name, line), the pair with the smallest later line is
     * the first two occurrences of its name: `first` is the original. */
    mp_set_error(err, errlen, "%s:%zu: duplicate name '%s' (also on line %zu)",
            path, dup->line, dup->name, first->line);
    return -1;
}

/*
 * An unknown name is hashed against the settings of a real entry, so that
 * it costs what a known name costs. Which entry is a keyed hash of the
 * name: the same name always gets the same entry (as a real user always
 * has the same method), and in a file that mixes methods the unknown names
 * spread over them as the users do. One fixed entry would not do: in a
 * file of yescrypt users and one md5-crypt user, every unknown name would
 * cost 200 ms and the md5-crypt user 0.5 ms, which tells that user exists.
 *
 * The key is drawn from the stored hashes (their salts and outputs are
 * secret), so clients cannot predict the mapping, and it survives
 * restarts while the file is unchanged (a per-process key would let a
 * client compare a name's cost before and after a restart).
 */
static uint64_t mix64(uint64_t x)
{
    /* splitmix64's finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t absorb(uint64_t h, const char *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = mix64(h ^ (unsigned char)bytes[i]);
    return h;
}

static void pick_dummies(struct mp_passwd *pw)
{
    uint64_t key = 0x6d7062726f6b6572ULL; /* "mpbroker" */

    for (size_t i = 0; i < pw->count; i++)
        key = absorb(key, pw->entries[i].hash, strlen(pw->entries[i].hash));
    pw->dummy_key = key;
    pw->dummy_hash = fallback_dummy_hash;
}

static const char *dummy_hash_for(const struct mp_passwd *pw,
                                  const char *name, size_t name_len)
{
    if (pw->count == 0)
        return pw->dummy_hash;
    return pw->entries[absorb(pw->dummy_key, name, name_len) % pw->count]
        .hash;
}

int mp_passwd_parse(const char *path, const char *text, size_t len,
                    struct mp_passwd **out, char *err, size_t errlen)
{
    struct mp_passwd *pw = calloc(1, sizeof *pw);
    size_t cap = 0, pos = 0, lineno = 0, line_len;
    const char *line;
    struct line l;

    if (pw == NULL)
        goto oom;
    while (passwd_next_line(text, len, &pos, &line, &line_len)) {
        lineno++;
        switch (passwd_parse_line(line, line_len, &l)) {
        case LINE_SKIP:
            continue;
        case LINE_BAD:
            mp_set_error(err, errlen, "%s:%zu: %s", path, lineno, l.why);
            mp_passwd_free(pw);
            return -1;
        case LINE_USER:
            if (table_add(pw, &cap, &l, lineno) < 0)
                goto oom;
            break;
        }
    }
    if (pw->count > 1)
        qsort(pw->entries, pw->count, sizeof *pw->entries, entry_cmp);
    if (check_duplicates(pw, path, err, errlen) < 0) {
        mp_passwd_free(pw);
        return -1;
    }
    pick_dummies(pw);
    *out = pw;
    return 0;

oom:
    mp_passwd_free(pw);
    mp_set_error(err, errlen, "%s: out of memory", path);
    return -1;
}

int passwd_read_all(const char *path, char **out, size_t *outlen,
                    struct stat *st)
{
    size_t len = 0, cap = 4096;
    char *buf = NULL;
    int fd, saved;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0)
        goto fail;
    buf = malloc(cap);
    if (buf == NULL)
        goto fail;
    for (;;) {
        ssize_t n;
        if (len + 1 == cap) {
            char *nbuf;
            if (cap > PASSWD_FILE_SIZE_MAX) {
                errno = EFBIG;
                goto fail;
            }
            nbuf = realloc(buf, cap * 2);
            if (nbuf == NULL)
                goto fail;
            buf = nbuf;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;

fail:
    saved = errno;
    free(buf);
    close(fd);
    errno = saved;
    return -1;
}

int mp_passwd_load(const char *path, struct mp_passwd **out, char *err,
                   size_t errlen)
{
    struct stat st;
    char *text;
    size_t len;
    int rc;

    if (passwd_read_all(path, &text, &len, &st) < 0) {
        mp_set_error(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    rc = mp_passwd_parse(path, text, len, out, err, errlen);
    free(text);
    return rc;
}

const char *mp_passwd_lookup(const struct mp_passwd *pw, const char *name,
                             size_t name_len)
{
    struct key k = { name, name_len };
    const struct entry *e;

    if (pw->count == 0)
        return NULL;
    e = bsearch(&k, pw->entries, pw->count, sizeof *pw->entries, key_cmp);
    return e != NULL ? e->hash : NULL;
}

/* ---------------------------------------------------------------------- */
/* Verifying */

int passwd_run_crypt(const char *setting, const unsigned char *secret,
                     size_t len, char *out)
{
    char phrase[MP_PASSWD_SECRET_MAX + 1];
    struct crypt_data *cd;
    const char *h;
    int ok;

    /* About 32 KiB: too big for the stack of a library function. calloc
     * also gives the zeroed `initialized` member crypt_rn wants. */
    cd = calloc(1, sizeof *cd);
    if (cd == NULL)
        return -1;
    if (len > 0)
        memcpy(phrase, secret, len);
    phrase[len] = '\0';
    /*
     * crypt_rn is crypt_r that fails with NULL rather than a "*0" token.
     * It also keeps sanitizer builds working: ASan intercepts crypt_r, and
     * its interceptor jumps to NULL when libcrypt is loaded only later, by
     * dlopen() - as it is with auth_passwd.so in a broker built with
     * --enable-sanitizers.
     */
    errno = 0;
    h = crypt_rn(phrase, setting, cd, (int)sizeof *cd);
    ok = h != NULL && h[0] == '$' && strlen(h) < MP_PASSWD_HASH_MAX;
    if (ok)
        memcpy(out, h, strlen(h) + 1);
    else if (errno == 0)
        errno = EINVAL;
    /* The phrase, and crypt's scratch space, held the secret. */
    explicit_bzero(phrase, sizeof phrase);
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return ok;
}

/* Compare without an early exit, so that the time taken does not tell how
 * long a prefix of the stored hash an attacker has got right. */
static bool equal_in_constant_time(const char *computed, const char *stored)
{
    size_t m = strlen(computed), n = strlen(stored);
    unsigned char diff = (unsigned char)(m != n);

    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < m ? computed[i] : 0) ^ stored[i]);
    return diff == 0;
}

static bool secret_is_hashable(const unsigned char *secret, size_t len)
{
    return len <= MP_PASSWD_SECRET_MAX &&
           (len == 0 || memchr(secret, '\0', len) == NULL);
}

enum mp_passwd_result mp_passwd_verify(const struct mp_passwd *pw,
                                       const char *name, size_t name_len,
                                       const unsigned char *secret,
                                       size_t secret_len)
{
    const char *hash = mp_passwd_lookup(pw, name, name_len);
    const char *setting = hash != NULL ? hash
                                       : dummy_hash_for(pw, name, name_len);
    char computed[MP_PASSWD_HASH_MAX];
    bool match;
    int rc;

    /* Refused before any lookup-dependent work: the answer is the same for
     * every name, and so is the time. */
    if (!secret_is_hashable(secret, secret_len))
        return hash != NULL ? MP_PASSWD_MISMATCH : MP_PASSWD_UNKNOWN;

    rc = passwd_run_crypt(setting, secret, secret_len, computed);
    if (rc < 0)
        return MP_PASSWD_ERROR;
    match = rc > 0 && equal_in_constant_time(computed, setting);
    explicit_bzero(computed, sizeof computed);
    if (hash == NULL)
        return MP_PASSWD_UNKNOWN;
    return match ? MP_PASSWD_MATCH : MP_PASSWD_MISMATCH;
}
