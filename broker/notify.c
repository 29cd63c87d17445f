/* notify.c - readiness notification (see notify.h). */
#include "config.h"

#include "notify.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

void service_notify(const char *state)
{
    /* Keep $NOTIFY_SOCKET (0): a reload notifies again later. */
    sd_notify(0, state);
}
#else
void service_notify(const char *state)
{
    (void)state;
}
#endif
