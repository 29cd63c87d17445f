/*
 * fuzz_plugins.h - where the harnesses that load plugins find them: the
 * build tree's plugins/.libs (MP_FUZZ_PLUGIN_DIR, set by
 * tests/fuzz/local.mk), or $MP_PLUGIN_BUILD_DIR as in the test suite.
 *
 * Only the shipped modules below are ever loaded, from that directory,
 * never a path taken from a fuzz input.
 */
#ifndef MP_FUZZ_PLUGINS_H
#define MP_FUZZ_PLUGINS_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef MP_FUZZ_PLUGIN_DIR
#error "MP_FUZZ_PLUGIN_DIR must name the build's plugins/.libs"
#endif

static inline const char *fuzz_plugin_dir(void)
{
    const char *dir = getenv("MP_PLUGIN_BUILD_DIR");

    return dir != NULL && dir[0] != '\0' ? dir : MP_FUZZ_PLUGIN_DIR;
}

/*
 * dlopen a module once for the whole run and never close it: the
 * broker's own dlopen/dlclose per input then only move a reference count
 * (fast), and the module's code stays mapped for the sanitizers' reports.
 * Returns 0, or -1 after printing why.
 */
static inline int fuzz_pin_plugin(const char *module)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", fuzz_plugin_dir(), module);
    if (dlopen(path, RTLD_NOW | RTLD_LOCAL) == NULL) {
        fprintf(stderr, "fuzz: cannot load %s: %s (build the plugins first, "
                        "or set MP_PLUGIN_BUILD_DIR)\n", path, dlerror());
        return -1;
    }
    return 0;
}

#endif
