/*
 * passwd_update.c - writing the `name:hash` password file: hashing a new
 * secret and the atomic rewrite (see passwd_update.h). Only
 * mpbroker-passwd links it; the broker's auth_passwd.so, which never
 * writes, links the reader (passwd_file.c) alone.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "passwd_internal.h"
#include "passwd_update.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* ---------------------------------------------------------------------- */
/* Hashing */

static const char *secret_problem(const unsigned char *secret, size_t len)
{
    if (len == 0)
        return "the secret is empty";
    if (len > MP_PASSWD_SECRET_MAX)
        return "the secret is longer than " STRINGIFY(MP_PASSWD_SECRET_MAX)
               " bytes";
    if (memchr(secret, '\0', len) != NULL)
        return "the secret contains a NUL byte";
    return NULL;
}

/*
 * A fresh setting (method, cost, random salt) for `prefix`, or for yescrypt
 * with a fall-back to sha512-crypt when prefix is NULL. *method names the
 * one tried last. Returns 0, or -1 with errno set.
 */
static int make_setting(const char *prefix, char *setting, int size,
                        const char **method)
{
    /* rbytes NULL: libxcrypt draws the salt from the OS (getrandom,
     * getentropy or /dev/urandom) and fails rather than use a weak one. */
    *method = prefix != NULL ? prefix : "$y$";
    if (crypt_gensalt_rn(*method, 0, NULL, 0, setting, size) != NULL)
        return 0;
    if (prefix != NULL)
        return -1;
    *method = "$6$"; /* a libxcrypt built without yescrypt */
    return crypt_gensalt_rn(*method, 0, NULL, 0, setting, size) != NULL ? 0
                                                                         : -1;
}

int mp_passwd_hash(const unsigned char *secret, size_t secret_len,
                   const char *prefix, char *out, size_t outlen, char *err,
                   size_t errlen)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    char hash[MP_PASSWD_HASH_MAX];
    const char *why = secret_problem(secret, secret_len), *method;
    int rc;

    if (why != NULL) {
        mp_set_error(err, errlen, "%s", why);
        return -1;
    }
    if (make_setting(prefix, setting, (int)sizeof setting, &method) < 0) {
        mp_set_error(err, errlen, "cannot make a salt for method '%s': %s",
                method, strerror(errno));
        return -1;
    }
    rc = passwd_run_crypt(setting, secret, secret_len, hash);
    if (rc <= 0) {
        mp_set_error(err, errlen, "cannot hash with method '%s': %s", method,
                strerror(rc < 0 ? ENOMEM : errno));
        return -1;
    }
    rc = strlen(hash) < outlen ? 0 : -1;
    if (rc == 0)
        memcpy(out, hash, strlen(hash) + 1);
    else
        mp_set_error(err, errlen, "hash buffer too small");
    explicit_bzero(hash, sizeof hash);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Rewriting */

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Make the rename durable. Best effort: the new file is already in place,
 * and there is nothing to undo if the directory cannot be synced. */
static void sync_parent_dir(const char *target)
{
    const char *slash = strrchr(target, '/');
    char *dir;
    int fd;

    if (slash == NULL) {
        dir = strdup(".");
    } else {
        size_t n = slash == target ? 1 : (size_t)(slash - target);
        dir = strndup(target, n);
    }
    if (dir == NULL)
        return;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* The new file keeps the old one's owner, or the broker (often running as
 * its own user) could lose read access to it. */
static int keep_owner(int fd, const struct stat *old)
{
    struct stat now;

    if (fstat(fd, &now) < 0)
        return -1;
    if (now.st_uid == old->st_uid && now.st_gid == old->st_gid)
        return 0;
    return fchown(fd, old->st_uid, old->st_gid);
}

/*
 * Replace `target` with data[0..len) through a temporary file beside it.
 * `old` is the stat of the file replaced, NULL if there is none.
 */
static int replace_file(const char *target, const struct stat *old,
                        const char *data, size_t len, const char *shown,
                        char *err, size_t errlen)
{
    size_t tlen = strlen(target);
    const char *what = "cannot create a temporary file";
    char *tmp = malloc(tlen + sizeof ".XXXXXX");
    bool created = false;
    int fd = -1, saved;

    if (tmp == NULL) {
        errno = ENOMEM;
        goto fail;
    }
    memcpy(tmp, target, tlen);
    memcpy(tmp + tlen, ".XXXXXX", sizeof ".XXXXXX");
    fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 from the start */
    if (fd < 0)
        goto fail;
    created = true;
    what = "cannot keep the file's owner";
    if (old != NULL && keep_owner(fd, old) < 0)
        goto fail;
    what = "cannot set the file's mode";
    if (fchmod(fd, old != NULL ? old->st_mode & 07777 : 0600) < 0)
        goto fail;
    what = "cannot write";
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0)
        goto fail;
    saved = close(fd);
    fd = -1;
    if (saved < 0)
        goto fail;
    what = "cannot replace the file";
    if (rename(tmp, target) < 0)
        goto fail;
    free(tmp);
    sync_parent_dir(target);
    return 0;

fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (created)
        (void)unlink(tmp);
    free(tmp);
    mp_set_error(err, errlen, "%s: %s: %s", shown, what, strerror(saved));
    return -1;
}

/*
 * The file `path` names: a symbolic link is followed so that the rename
 * replaces its target, not the link. A missing file is created at `path`.
 */
static char *resolve_target(const char *path)
{
    char *real = realpath(path, NULL);

    if (real == NULL && errno == ENOENT)
        return strdup(path);
    return real;
}

/* Write "name:hash" (no newline, no NUL) at out + *o. */
static void put_entry(char *out, size_t *o, const char *name, size_t name_len,
                      const char *hash, size_t hash_len)
{
    memcpy(out + *o, name, name_len);
    out[*o + name_len] = ':';
    memcpy(out + *o + name_len + 1, hash, hash_len);
    *o += name_len + 1 + hash_len;
}

/* text[0..len) with `name` set to `hash`, or removed when hash is NULL.
 * *found tells whether the name was there. NULL when out of memory. */
static char *rewrite_text(const char *text, size_t len, const char *name,
                          const char *hash, bool *found, size_t *outlen)
{
    size_t name_len = strlen(name), hash_len = hash ? strlen(hash) : 0;
    size_t pos = 0, o = 0, line_len;
    const char *line;
    struct line l;
    /* At most: every line, a '\n' the last one may lack, and one new
     * line (a replaced line grows by less than that). */
    char *out = malloc(len + 1 + name_len + 1 + hash_len + 1);

    if (out == NULL)
        return NULL;
    *found = false;
    while (passwd_next_line(text, len, &pos, &line, &line_len)) {
        bool ours = passwd_parse_line(line, line_len, &l) == LINE_USER &&
                    l.name_len == name_len &&
                    memcmp(l.name, name, name_len) == 0;
        if (ours)
            *found = true;
        if (ours && hash == NULL)
            continue; /* deleted */
        if (ours) {
            put_entry(out, &o, name, name_len, hash, hash_len); /* in place */
        } else {
            memcpy(out + o, line, line_len);
            o += line_len;
        }
        out[o++] = '\n';
    }
    if (!*found && hash != NULL) {
        put_entry(out, &o, name, name_len, hash, hash_len);
        out[o++] = '\n';
    }
    *outlen = o;
    return out;
}

/* The file a write to `path` replaces (symlinks followed), once `name`
 * and `hash` (NULL: a deletion) are ones the broker would load. NULL,
 * with err set, otherwise. The caller frees it. */
static char *checked_target(const char *path, const char *name,
                            const char *hash, char *err, size_t errlen)
{
    const char *why = mp_passwd_name_check(name, strlen(name));
    bool legacy;
    char *target;

    if (why == NULL && hash != NULL)
        why = passwd_hash_check(hash, strlen(hash), &legacy);
    if (why != NULL) {
        mp_set_error(err, errlen, "%s", why);
        return NULL;
    }
    target = resolve_target(path);
    if (target == NULL)
        mp_set_error(err, errlen, "%s: %s", path, strerror(errno));
    return target;
}

int mp_passwd_update(const char *path, const char *name, const char *hash,
                     char *err, size_t errlen)
{
    struct mp_passwd *pw;
    struct stat st;
    char *target = NULL, *text = NULL, *out = NULL;
    size_t len = 0, outlen;
    bool exists = true, found;
    int rc = -1;

    target = checked_target(path, name, hash, err, errlen);
    if (target == NULL)
        return -1;
    if (passwd_read_all(target, &text, &len, &st) < 0) {
        if (errno != ENOENT || hash == NULL) {
            mp_set_error(err, errlen, "%s: %s", path, strerror(errno));
            goto done;
        }
        exists = false;
    }
    /* Refuse to build on a file the broker would refuse. */
    if (mp_passwd_parse(path, text, len, &pw, err, errlen) < 0)
        goto done;
    mp_passwd_free(pw);

    out = rewrite_text(text, len, name, hash, &found, &outlen);
    if (out == NULL) {
        mp_set_error(err, errlen, "%s: out of memory", path);
        goto done;
    }
    if (hash == NULL && !found) {
        mp_set_error(err, errlen, "%s: no user '%s'", path, name);
        goto done;
    }
    rc = replace_file(target, exists ? &st : NULL, out, outlen, path, err,
                      errlen);
done:
    free(out);
    free(text);
    free(target);
    return rc;
}

/* The first line of a file mp_passwd_create() writes. */
static const char created_header[] =
    "# mpbroker.passwd - the users of auth_passwd: NAME:HASH, one a line\n"
    "# (written by mpbroker-passwd -c; see mpbroker-passwd(1))\n";

int mp_passwd_create(const char *path, const char *name, const char *hash,
                     char *err, size_t errlen)
{
    size_t hlen = sizeof created_header - 1, name_len = strlen(name);
    size_t hash_len = strlen(hash), o = hlen;
    struct stat st;
    bool exists = true;
    char *target, *out;
    int rc;

    target = checked_target(path, name, hash, err, errlen);
    if (target == NULL)
        return -1;
    /* An existing file is replaced whatever it holds (it may be the
     * broken file being started over), but keeps its mode and owner. */
    if (stat(target, &st) < 0) {
        if (errno != ENOENT) {
            mp_set_error(err, errlen, "%s: %s", path, strerror(errno));
            free(target);
            return -1;
        }
        exists = false;
    } else if (!S_ISREG(st.st_mode)) {
        mp_set_error(err, errlen, "%s: not a regular file", path);
        free(target);
        return -1;
    }
    out = malloc(hlen + name_len + 1 + hash_len + 1);
    if (out == NULL) {
        mp_set_error(err, errlen, "%s: out of memory", path);
        free(target);
        return -1;
    }
    memcpy(out, created_header, hlen);
    put_entry(out, &o, name, name_len, hash, hash_len);
    out[o++] = '\n';
    rc = replace_file(target, exists ? &st : NULL, out, o, path, err, errlen);
    free(out);
    free(target);
    return rc;
}
