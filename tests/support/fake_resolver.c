/* fake_resolver.c - getaddrinfo() answers of the test's choosing (see
 * fake_resolver.h). */
#include "config.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "fake_resolver.h"

struct answer {
    char name[256];
    struct sockaddr_storage addrs[MPT_FAKE_ADDRS_MAX];
    socklen_t lens[MPT_FAKE_ADDRS_MAX];
    bool own_port[MPT_FAKE_ADDRS_MAX]; /* port 0: the service's */
    size_t n;
};

/* One getaddrinfo result of ours, in one block, so that freeaddrinfo can
 * tell it from libc's by its address. */
struct result {
    struct addrinfo ai[MPT_FAKE_ADDRS_MAX];
    struct sockaddr_storage sa[MPT_FAKE_ADDRS_MAX];
    struct result *next_live;
};

static struct answer answers[MPT_FAKE_NAMES_MAX];
static unsigned calls;
static struct result *live; /* results not freed yet */

typedef int (*getaddrinfo_fn)(const char *, const char *,
                              const struct addrinfo *, struct addrinfo **);
typedef void (*freeaddrinfo_fn)(struct addrinfo *);

/* The next definitions (libc's, or a sanitizer's interceptor). A function
 * pointer cannot be converted from dlsym's void * in ISO C: copy it. */
static void *next_symbol(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);

    if (p == NULL)
        abort();
    return p;
}

static getaddrinfo_fn next_getaddrinfo(void)
{
    void *p = next_symbol("getaddrinfo");
    getaddrinfo_fn fn;

    memcpy(&fn, &p, sizeof fn);
    return fn;
}

static freeaddrinfo_fn next_freeaddrinfo(void)
{
    void *p = next_symbol("freeaddrinfo");
    freeaddrinfo_fn fn;

    memcpy(&fn, &p, sizeof fn);
    return fn;
}

static struct answer *find(const char *name)
{
    for (size_t i = 0; i < MPT_FAKE_NAMES_MAX; i++) {
        if (answers[i].name[0] != '\0' && name != NULL &&
            strcmp(answers[i].name, name) == 0)
            return &answers[i];
    }
    return NULL;
}

static bool parse_addr(const struct mpt_fake_addr *in,
                       struct sockaddr_storage *out, socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, in->ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)in->port);
        *len = sizeof *sin;
        return true;
    }
    if (inet_pton(AF_INET6, in->ip, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)in->port);
        *len = sizeof *sin6;
        return true;
    }
    return false;
}

void mpt_fake_resolve(const char *name, const struct mpt_fake_addr *addrs,
                      size_t n)
{
    struct answer *a = find(name);

    cr_assert(n <= MPT_FAKE_ADDRS_MAX && strlen(name) < sizeof a->name,
              "fake answer for %s too big", name);
    for (size_t i = 0; a == NULL && i < MPT_FAKE_NAMES_MAX; i++) {
        if (answers[i].name[0] == '\0')
            a = &answers[i];
    }
    cr_assert_not_null(a, "more than %d faked names", MPT_FAKE_NAMES_MAX);
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < n; i++) {
        cr_assert(parse_addr(&addrs[i], &a->addrs[i], &a->lens[i]),
                  "fake address \"%s\" is not numeric", addrs[i].ip);
        a->own_port[i] = addrs[i].port != 0;
    }
    a->n = n;
    strcpy(a->name, name);
}

void mpt_fake_resolve_reset(void)
{
    memset(answers, 0, sizeof answers);
}

unsigned mpt_fake_resolve_calls(void)
{
    return calls;
}

static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
    if (sa->ss_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/* Build our answer as getaddrinfo would, honouring hints' family. */
static int answer_with(const struct answer *a, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res)
{
    int family = hints != NULL ? hints->ai_family : AF_UNSPEC;
    long port = service != NULL ? strtol(service, NULL, 10) : 0;
    struct result *r = calloc(1, sizeof *r);
    struct addrinfo *prev = NULL;

    if (r == NULL)
        return EAI_MEMORY;
    for (size_t i = 0, k = 0; i < a->n; i++) {
        if (family != AF_UNSPEC && family != a->addrs[i].ss_family)
            continue;
        r->sa[k] = a->addrs[i];
        if (!a->own_port[i])
            set_port(&r->sa[k], (uint16_t)port);
        r->ai[k] = (struct addrinfo){
            .ai_family = a->addrs[i].ss_family,
            .ai_socktype = SOCK_STREAM,
            .ai_protocol = IPPROTO_TCP,
            .ai_addrlen = a->lens[i],
            .ai_addr = (struct sockaddr *)&r->sa[k],
        };
        if (prev != NULL)
            prev->ai_next = &r->ai[k];
        prev = &r->ai[k++];
    }
    if (prev == NULL) {
        free(r);
        return EAI_NONAME;
    }
    r->next_live = live;
    live = r;
    *res = &r->ai[0];
    return 0;
}

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    const struct answer *a = find(node);

    if (a == NULL)
        return next_getaddrinfo()(node, service, hints, res);
    calls++;
    return answer_with(a, service, hints, res);
}

void freeaddrinfo(struct addrinfo *res)
{
    for (struct result **p = &live; *p != NULL; p = &(*p)->next_live) {
        if (&(*p)->ai[0] == res) {
            struct result *r = *p;
            *p = r->next_live;
            free(r);
            return;
        }
    }
    next_freeaddrinfo()(res);
}
