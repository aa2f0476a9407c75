/* B4 yield on libdill: 2 coroutines x 5,000,000 yield(); the main
 * coroutine waits on their bundle, so only the two yielders are runnable.
 * As bench/yield.c. */
#include "../peer.h"

#include <errno.h>
#include <libdill.h>

#define PER 5000000
#define NG 2

static int64_t counts[NG];

static coroutine void yielder(int64_t *n)
{
    for (int i = 0; i < PER; i++) {
        yield();
        (*n)++;
    }
}

int main(void)
{
    int b = bundle();
    PEER_CHECK(b >= 0, "bundle: %s", strerror(errno));
    int64_t t0 = peer_now();
    for (int i = 0; i < NG; i++)
        PEER_CHECK(bundle_go(b, yielder(&counts[i])) == 0, "bundle_go: %s", strerror(errno));
    PEER_CHECK(bundle_wait(b, -1) == 0, "bundle_wait: %s", strerror(errno));
    double ns = (double)(peer_now() - t0) / ((double)NG * PER);
    for (int i = 0; i < NG; i++)
        PEER_CHECK(counts[i] == PER, "yielder %d counted %lld, want %d", i,
                   (long long)counts[i], PER);
    hclose(b);
    printf("yield (libdill): %d coroutines x %d yields, 1 thread\n", NG, PER);
    peer_report("yield", "ns_per_switch", ns, "ns");
    return 0;
}
