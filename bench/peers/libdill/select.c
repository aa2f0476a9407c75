/* B5 select on libdill: 4 producers each send 1,000,000 ints on their own
 * unbuffered channel; one consumer choose()s over the 4 receives until it
 * has all 4,000,000; checks every channel's count and sum.  As
 * bench/select.c, on one thread. */
#include "../peer.h"

#include <errno.h>
#include <libdill.h>

#define NPROD 4
#define PER 1000000

static int64_t counts[NPROD], sums[NPROD];

static coroutine void producer(int ch)
{
    for (int64_t v = 0; v < PER; v++)
        PEER_CHECK(chsend(ch, &v, sizeof v, -1) == 0, "chsend: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    char name[64] = "select";
    if (argc > 1 && strcmp(argv[1], "all") != 0)
        snprintf(name, sizeof name, "select_p%s", argv[1]); /* goro's row names */
    int chans[NPROD][2];
    int64_t v;
    struct chclause cl[NPROD];
    int b = bundle();
    PEER_CHECK(b >= 0, "bundle: %s", strerror(errno));
    for (int i = 0; i < NPROD; i++) {
        PEER_CHECK(chmake(chans[i]) == 0, "chmake: %s", strerror(errno));
        cl[i] = (struct chclause){CHRECV, chans[i][1], &v, sizeof v};
    }
    int64_t t0 = peer_now();
    for (int i = 0; i < NPROD; i++)
        PEER_CHECK(bundle_go(b, producer(chans[i][0])) == 0, "bundle_go: %s", strerror(errno));
    for (int64_t n = 0; n < (int64_t)NPROD * PER; n++) {
        int k = choose(cl, NPROD, -1);
        PEER_CHECK(k >= 0 && k < NPROD, "choose returned %d: %s", k, strerror(errno));
        counts[k]++;
        sums[k] += v;
    }
    double ns = (double)(peer_now() - t0) / ((double)NPROD * PER);
    for (int i = 0; i < NPROD; i++) {
        PEER_CHECK(counts[i] == PER, "channel %d: %lld messages, want %d", i,
                   (long long)counts[i], PER);
        PEER_CHECK(sums[i] == (int64_t)PER * (PER - 1) / 2, "channel %d: sum %lld", i,
                   (long long)sums[i]);
    }
    PEER_CHECK(bundle_wait(b, -1) == 0, "bundle_wait: %s", strerror(errno));
    hclose(b);
    printf("select (libdill): %d producers x %d messages, 1 thread\n", NPROD, PER);
    peer_report(name, "ns_per_msg", ns, "ns");
    return 0;
}
