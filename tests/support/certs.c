/* certs.c - see certs.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "certs.h"
#include "harness.h"

const char *mpt_make_certs(struct harness *h)
{
    const char *srcdir = getenv("MP_SRCDIR");
    char cmd[1024];
    int status;

    cr_assert(srcdir != NULL, "MP_SRCDIR is not set: run through make check");
    snprintf(cmd, sizeof cmd, "sh '%s/tests/support/make-certs.sh' '%s'",
             srcdir, harness_dir(h));
    status = system(cmd);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "make-certs.sh failed (status %d): is openssl installed?",
              status);
    return harness_dir(h);
}
