/*
 * mpcat_presence.c - the watch and list commands (protocol level 2):
 *
 *     mpcat -n me watch bob carol     "bob online", "carol offline", ...
 *     mpcat -n me -p watch b          every name that starts with b
 *     mpcat -n me list b              the names online under b, sorted
 *
 * One line per notice or name on stdout, flushed at once. watch runs
 * until SIGINT/SIGTERM, the broker goes, or -c N notices arrived; list
 * exits once the broker's list is complete.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpcat.h"

static void on_presence(struct mp_client *c, const char *name, int online,
                        void *arg)
{
    struct app *a = arg;

    (void)c;
    if (a->finished)
        return;
    if (printf("%s %s\n", name, online ? "online" : "offline") < 0 ||
        fflush(stdout) != 0) {
        fail(a, ST_ERROR, "cannot write to stdout: %s", strerror(errno));
        return;
    }
    if (a->cfg.count != 0 && ++a->received >= a->cfg.count)
        leave(a, ST_OK);
}

static int by_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void on_list(struct mp_client *c, const char *prefix,
                    const char *const *names, size_t n, int truncated,
                    int status, void *arg)
{
    struct app *a = arg;
    const char **sorted;

    (void)c;
    (void)prefix;
    if (a->finished)
        return;
    if (status != MP_OK) {
        fail(a, status_of(status), "cannot list: %s", mp_strerror(status));
        return;
    }
    /* The broker lists in no particular order: sorted, a script can
     * compare two lists. */
    sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted == NULL) {
        fail(a, ST_ERROR, "out of memory");
        return;
    }
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_name);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", sorted[i]);
    free(sorted);
    if (fflush(stdout) != 0) {
        fail(a, ST_ERROR, "cannot write to stdout: %s", strerror(errno));
        return;
    }
    if (truncated)
        note("the list is truncated: the broker lists at most "
             "limits.max_list_names names; give a longer prefix");
    leave(a, ST_OK);
}

/* A watch the library refused, with what to do about it. */
static void watch_failed(struct app *a, const char *what, int r)
{
    if (r == MP_ERR_LIMIT)
        fail(a, ST_ERROR, "cannot watch %s: the broker allows %u watches "
             "at once: watch a prefix (-p) instead", what,
             mp_client_max_watches(a->client));
    else
        fail(a, status_of(r), "cannot watch %s: %s", what, mp_strerror(r));
}

void presence_start(struct app *a)
{
    const struct config *cfg = &a->cfg;
    int r;

    if (mp_client_level(a->client) < 2) {
        fail(a, ST_ERROR, "%s needs protocol level 2, which the broker at "
             "%s does not speak%s", cfg->mode == MODE_WATCH ? "watch"
                                                           : "list",
             cfg->address,
             cfg->level == 1 ? " with --level 1"
             : strcmp(cfg->format, "gob") == 0 ? " in gob without --level 2"
                                               : " (an older mpbroker)");
        return;
    }
    if (cfg->mode == MODE_LIST) {
        r = mp_client_list(a->client, cfg->n_files ? cfg->files[0] : "",
                           on_list, a);
        if (r != MP_OK)
            fail(a, status_of(r), "cannot list: %s", mp_strerror(r));
        return;
    }
    mp_client_on_presence(a->client, on_presence, a);
    for (int i = 0; i < cfg->n_files && !a->finished; i++) {
        r = cfg->prefix ? mp_client_watch_prefix(a->client, cfg->files[i])
                        : mp_client_watch(a->client, cfg->files[i]);
        if (r != MP_OK)
            watch_failed(a, cfg->files[i], r);
    }
}
