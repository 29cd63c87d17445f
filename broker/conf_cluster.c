/*
 * conf_cluster.c - the `cluster` group: its rows are in conf_table.c;
 * here, what no single row can check (doc/cluster.md, "Configuration").
 */
#include "config.h"

#include <string.h>

#include "conf_schema.h"
#include "conf_sections.h"

/* Can others dial this address as it is written? */
static bool is_wildcard(const char *address)
{
    return strcmp(address, "0.0.0.0") == 0 || strcmp(address, "::") == 0;
}

static void check_cluster(const struct cluster_conf *c, struct errors *errs)
{
    const config_setting_t *link = conf_member(c->entry, "link", CONF_GROUP);

    /* Fencing must come before the lease runs out, or another broker may
     * take a name this one still serves. */
    if (c->fence_ms >= c->lease_ms)
        conf_setting_error(errs, conf_member_or_group(c->entry, "fence_ms"),
                           "must be less than cluster.lease_ms (%u)",
                           c->lease_ms);
    /* At least two renewals per fence bound: one lost answer is no
     * reason to fence. */
    if (c->renew_ms * 2 > c->fence_ms)
        conf_setting_error(errs, conf_member_or_group(c->entry, "renew_ms"),
                           "must be at most half of cluster.fence_ms (%u)",
                           c->fence_ms);
    if (c->link_ping_ms * 2 > c->link_timeout_ms)
        conf_setting_error(errs, conf_member_or_group(link, "ping_ms"),
                           "must be at most half of cluster.link.timeout_ms "
                           "(%u)", c->link_timeout_ms);
    /* Absent, so the error points at the group and names the member. */
    if (c->link_secret_file == NULL)
        conf_setting_error(errs, link ? link : c->entry,
                           "secret_file is required: links are "
                           "authenticated with it");
    if (c->link_advertise == NULL && c->link_address != NULL &&
        is_wildcard(c->link_address))
        conf_setting_error(errs, link ? link : c->entry,
                           "advertise is required when address is a "
                           "wildcard: other brokers dial it");
    if (c->redis != NULL && strncmp(c->redis, "tcp:", 4) != 0 &&
        strncmp(c->redis, "unix:", 5) != 0)
        conf_setting_error(errs, conf_member_or_group(c->entry, "redis"),
                           "must be \"tcp:HOST:PORT\" or \"unix:PATH\"");
}

void conf_read_cluster(struct broker_conf *conf, struct errors *errs)
{
    const config_setting_t *root = config_root_setting(&conf->tree);

    conf->cluster.entry = conf_member(root, "cluster", CONF_GROUP);
    if (conf->cluster.entry == NULL)
        return;
    conf_read_section(conf, "cluster", errs);
    conf_read_section(conf, "cluster.link", errs);
    check_cluster(&conf->cluster, errs);
}
