/* B2 pingpong on libdill: two coroutines bounce an int over two unbuffered
 * channels, 1,000,000 round trips, one thread.  As bench/pingpong.c. */
#include "../peer.h"

#include <errno.h>
#include <libdill.h>

#define ROUNDS 1000000

static coroutine void ponger(int in, int out)
{
    int64_t v;
    while (chrecv(in, &v, sizeof v, -1) == 0) {
        v++;
        PEER_CHECK(chsend(out, &v, sizeof v, -1) == 0, "chsend: %s", strerror(errno));
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "1";
    int ping[2], pong[2];
    PEER_CHECK(chmake(ping) == 0 && chmake(pong) == 0, "chmake: %s", strerror(errno));
    int h = go(ponger(ping[1], pong[0]));
    PEER_CHECK(h >= 0, "go: %s", strerror(errno));
    int64_t v = 0, t0 = peer_now();
    for (int64_t i = 0; i < ROUNDS; i++) {
        PEER_CHECK(chsend(ping[0], &v, sizeof v, -1) == 0, "chsend: %s", strerror(errno));
        PEER_CHECK(chrecv(pong[1], &v, sizeof v, -1) == 0, "chrecv: %s", strerror(errno));
    }
    double ns = (double)(peer_now() - t0) / ROUNDS;
    PEER_CHECK(v == ROUNDS, "pingpong counted %lld, want %d", (long long)v, ROUNDS);
    PEER_CHECK(chdone(ping[0]) == 0, "chdone: %s", strerror(errno));
    hclose(h);
    char name[64];
    snprintf(name, sizeof name, "pingpong_p%s", mode);
    printf("pingpong (libdill): %d round trips, 1 thread\n", ROUNDS);
    peer_report(name, "ns_per_roundtrip", ns, "ns");
    return 0;
}
