/* B4 yield on neco: 2 coroutines x 5,000,000 neco_yield(); the main
 * coroutine waits on a wait group, so only the two yielders are runnable.
 * As bench/yield.c. */
#include "../peer.h"

#include <neco.h>

#define PER 5000000
#define NG 2

static int64_t counts[NG];
static double ns;
static neco_waitgroup wg;

static void yielder(int argc, void *argv[])
{
    (void)argc;
    int64_t *n = argv[0];
    for (int i = 0; i < PER; i++) {
        neco_yield();
        (*n)++;
    }
    neco_waitgroup_done(&wg);
}

static void body(int argc, void *argv[])
{
    (void)argc, (void)argv;
    neco_waitgroup_init(&wg);
    neco_waitgroup_add(&wg, NG);
    int64_t t0 = peer_now();
    for (int i = 0; i < NG; i++)
        PEER_CHECK(neco_start(yielder, 1, &counts[i]) == NECO_OK, "neco_start");
    PEER_CHECK(neco_waitgroup_wait(&wg) == NECO_OK, "neco_waitgroup_wait");
    ns = (double)(peer_now() - t0) / ((double)NG * PER);
}

int main(void)
{
    PEER_CHECK(neco_start(body, 0) == NECO_OK, "neco_start");
    for (int i = 0; i < NG; i++)
        PEER_CHECK(counts[i] == PER, "yielder %d counted %lld, want %d", i,
                   (long long)counts[i], PER);
    printf("yield (neco): %d coroutines x %d yields, 1 thread\n", NG, PER);
    peer_report("yield", "ns_per_switch", ns, "ns");
    return 0;
}
