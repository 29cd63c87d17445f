/*
 * registry_scripts.h - the Lua scripts of the registry (registry.h): each
 * change of shared state is one script, run atomically on the Redis
 * primary with Redis's own clock (TIME). Their KEYS and ARGV are listed
 * beside each text in registry_scripts.c; "P" below is "{prefix}:".
 */
#ifndef MP_BROKER_REGISTRY_SCRIPTS_H
#define MP_BROKER_REGISTRY_SCRIPTS_H

extern const char registry_script_register[];
extern const char registry_script_renew[];
extern const char registry_script_claim[];
extern const char registry_script_release[];
extern const char registry_script_lookup[];
extern const char registry_script_leave[];

#endif
