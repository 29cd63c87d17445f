/*
 * passwd_file.h - the `name:hash` password file of auth_passwd, written by
 * mpbroker-passwd: reading it (this header, passwd_file.c, all that
 * auth_passwd.so links). Writing it is passwd_update.h's.
 *
 * Format, one entry a line:
 *
 *     # a comment (only when '#' is the first byte of the line)
 *     alice:$y$j9T$...
 *
 * Blank lines (empty, or spaces and tabs only) and comments are ignored.
 * NAME follows the broker's name rule (1..255 bytes of UTF-8, no ':', no
 * control character) and may not start with '#'. HASH is a crypt(3) hash
 * that starts with '$' (yescrypt "$y$", sha512-crypt "$6$", bcrypt "$2b$",
 * ...) of a method this libcrypt supports. A name may appear only once.
 *
 * Every function that can fail takes a caller's buffer err[0..errlen) and
 * writes one NUL-terminated line there, naming the file (and line, for
 * parse errors): "mpbroker.passwd:3: expected NAME:HASH". Nothing here
 * prints, logs, or keeps a secret after returning.
 *
 * Not thread-safe as a whole, but a loaded table is read-only: any number
 * of threads may call mp_passwd_verify() on it at once.
 */
#ifndef MP_COMMON_PASSWD_FILE_H
#define MP_COMMON_PASSWD_FILE_H

#include <stddef.h>

/* Room for any hash this module makes or accepts, NUL included. */
#define MP_PASSWD_HASH_MAX 384 /* = CRYPT_OUTPUT_SIZE */

/* Longest secret crypt(3) takes: CRYPT_MAX_PASSPHRASE_SIZE less its NUL. */
#define MP_PASSWD_SECRET_MAX 511

/* A loaded file: an immutable table of (name, hash). */
struct mp_passwd;

/*
 * Read and parse `path`. Returns 0 and a table in *out (free it with
 * mp_passwd_free()), or -1 with the reason in err: the first malformed
 * line, a duplicate name, or an I/O error.
 */
int mp_passwd_load(const char *path, struct mp_passwd **out, char *err,
                   size_t errlen);

/* Same, from a file already in memory; `path` only names it in errors. */
int mp_passwd_parse(const char *path, const char *text, size_t len,
                    struct mp_passwd **out, char *err, size_t errlen);

void mp_passwd_free(struct mp_passwd *pw);

/* Number of users in the table. */
size_t mp_passwd_count(const struct mp_passwd *pw);

/* Number of users whose hash uses a method libcrypt calls legacy (DES,
 * md5crypt, ...): still accepted, but worth re-setting. */
size_t mp_passwd_legacy_count(const struct mp_passwd *pw);

/* The stored hash of name[0..name_len), or NULL if there is no such user.
 * Valid as long as the table. */
const char *mp_passwd_lookup(const struct mp_passwd *pw, const char *name,
                             size_t name_len);

/* NULL if name[0..len) may be stored in the file, else a static reason
 * ("name contains ':'"). */
const char *mp_passwd_name_check(const char *name, size_t len);

enum mp_passwd_result {
    MP_PASSWD_MATCH = 0,    /* known name, right secret */
    MP_PASSWD_MISMATCH = 1, /* known name, wrong secret */
    MP_PASSWD_UNKNOWN = 2,  /* no such name */
    MP_PASSWD_ERROR = -1,   /* out of memory: decide nothing */
};

/*
 * Check secret[0..secret_len) (any bytes) for name[0..name_len).
 *
 * An unknown name costs about as much as a known one: the secret is hashed
 * against the settings of a real entry, picked by a keyed hash of the name
 * (secret, and fixed while the file is), and the result thrown away. In a
 * file that mixes methods, unknown names cost what the users of each
 * method cost, in the same proportions, so timing does not tell which
 * names exist. A secret holding a NUL byte or longer
 * than MP_PASSWD_SECRET_MAX never matches: crypt(3) would silently cut it
 * at the NUL, so "pw\0anything" would pass for "pw".
 */
enum mp_passwd_result mp_passwd_verify(const struct mp_passwd *pw,
                                       const char *name, size_t name_len,
                                       const unsigned char *secret,
                                       size_t secret_len);

#endif
