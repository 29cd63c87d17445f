/*
 * conf_sections.h - the parts of the config file that are not one value
 * each (lists of entries, sets of ranges): read by conf_load() (conf.c)
 * after the table's rows of the top level have been checked. Private to
 * broker/conf*.c.
 *
 * Ownership: what they allocate is the conf's, freed by conf_free().
 */
#ifndef MP_BROKER_CONF_SECTIONS_H
#define MP_BROKER_CONF_SECTIONS_H

#include <stdbool.h>

#include <libconfig.h>

#include "conf.h"
#include "errors.h"

/* `translators` (or the two shipped ones) and `authenticators`
 * (conf_plugins.c). */
void conf_read_plugins(struct broker_conf *conf, struct errors *errs);
bool conf_translator_known(const struct broker_conf *conf, const char *name);

/* `listeners`, after the translators (conf_listeners.c). */
void conf_read_listeners(struct broker_conf *conf, struct errors *errs);

/* `cluster` and `cluster.link`, with the checks across their settings
 * (conf_cluster.c). */
void conf_read_cluster(struct broker_conf *conf, struct errors *errs);

/* The row of limits.auth_throttle_exempt (conf.c): `array`, or NULL when
 * absent (none exempt). */
void conf_read_throttle_exempt(struct broker_conf *conf,
                               const config_setting_t *array,
                               struct errors *errs);

#endif
