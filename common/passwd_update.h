/*
 * passwd_update.h - writing the password file of passwd_file.h: hash a
 * new secret, set or remove one user, start a file over. For
 * mpbroker-passwd (and the tests); the broker never writes the file, and
 * its auth_passwd.so does not carry this code.
 *
 * Errors as in passwd_file.h: one line in the caller's err[0..errlen).
 */
#ifndef MP_COMMON_PASSWD_UPDATE_H
#define MP_COMMON_PASSWD_UPDATE_H

#include "passwd_file.h"

/*
 * Hash secret[0..secret_len) with a fresh random salt into out[0..outlen)
 * (MP_PASSWD_HASH_MAX is always enough). `prefix` picks the method: NULL
 * means yescrypt ("$y$"), or sha512-crypt ("$6$") where this libcrypt has
 * no yescrypt. Returns 0, or -1 with the reason in err (empty secret, NUL
 * byte, too long, unsupported method, no entropy).
 */
int mp_passwd_hash(const unsigned char *secret, size_t secret_len,
                   const char *prefix, char *out, size_t outlen, char *err,
                   size_t errlen);

/*
 * Rewrite `path` with `name` set to `hash`, added at the end if absent, or,
 * when `hash` is NULL, with `name` removed (an error if absent). Every other
 * line, comments and blank lines included, is kept as it was. A missing
 * file is created with mode 0600 (only when adding).
 *
 * The existing file must parse (see mp_passwd_load): the tool never writes
 * a file the broker would refuse. The new contents go to a temporary file
 * in the same directory, which gets the old file's mode and owner (0600 for
 * a new file), is fsync()ed, then renamed over `path`: a reader sees the
 * old file or the new one, never a mix. A symbolic link at `path` is
 * followed, so the file it points to is replaced, not the link.
 *
 * Two runs at the same time on the same file may lose one of the changes
 * (the last rename wins): it is an admin's tool, not a database.
 *
 * Returns 0, or -1 with the reason in err; on error `path` is untouched.
 */
int mp_passwd_update(const char *path, const char *name, const char *hash,
                     char *err, size_t errlen);

/*
 * Write a new `path` holding only `name` with `hash` (after a comment line
 * or two), as `mosquitto_passwd -c` does: an existing file is replaced
 * whatever it holds - its users are lost, and it need not parse - but
 * keeps its mode and owner; a missing one is created with mode 0600. The
 * same temporary file, fsync and rename as mp_passwd_update(), and a
 * symbolic link is followed the same way.
 *
 * Returns 0, or -1 with the reason in err; on error `path` is untouched.
 */
int mp_passwd_create(const char *path, const char *name, const char *hash,
                     char *err, size_t errlen);

#endif
