/*
 * passwd_internal.h - the pieces of the password-file reader
 * (passwd_file.c) that its writer (passwd_update.c) reuses, so that a
 * file is parsed, and a secret hashed, by one piece of code whichever
 * program does it. Not for other modules: they use passwd_file.h.
 */
#ifndef MP_COMMON_PASSWD_INTERNAL_H
#define MP_COMMON_PASSWD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* A passwd file this big is a mistake (or /dev/zero), not a user list. */
#define PASSWD_FILE_SIZE_MAX ((size_t)64 << 20)

enum line_kind { LINE_SKIP, LINE_USER, LINE_BAD };

/* One line of the file; name and hash point into the caller's text. */
struct line {
    const char *name, *hash;
    size_t name_len, hash_len;
    bool legacy;
    const char *why; /* LINE_BAD: the reason (static) */
};

/* NULL if hash[0..len) looks like a crypt(3) hash of a method this libcrypt
 * supports (setting *legacy for old weak methods), else why not. */
const char *passwd_hash_check(const char *hash, size_t len, bool *legacy);

/* Classify one line (without its '\n'). */
enum line_kind passwd_parse_line(const char *s, size_t len, struct line *l);

/* The next line of text[*pos..len): (*line)[0..*line_len), without its
 * '\n'; *pos moves past the newline. Returns false at the end of text. */
bool passwd_next_line(const char *text, size_t len, size_t *pos,
                      const char **line, size_t *line_len);

/*
 * Read all of `path` into a malloc()ed, NUL-terminated buffer (the caller
 * frees *out), and stat it. Returns 0, or -1 with errno set (EFBIG past
 * PASSWD_FILE_SIZE_MAX).
 */
int passwd_read_all(const char *path, char **out, size_t *outlen,
                    struct stat *st);

/*
 * crypt(3) secret[0..len) with `setting` into out[0..MP_PASSWD_HASH_MAX).
 * The caller has checked that the secret holds no NUL and is at most
 * MP_PASSWD_SECRET_MAX bytes. Returns 1, 0 if crypt refused the setting
 * (errno set), -1 out of memory. Leaves no copy of the secret behind.
 */
int passwd_run_crypt(const char *setting, const unsigned char *secret,
                     size_t len, char *out);

#endif
