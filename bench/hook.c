/* hook: the cost of goro's interposed read and write (src/hook.c) against
 * goro_read/goro_write, on the same workload: PAIRS socketpairs, a
 * goroutine at each end, ROUNDS round trips of 64 bytes per pair, every
 * call parking when its peer has not answered yet.  Prints one line per
 * API and ends with the interposed one's metric.
 *
 *   hook [PAIRS [ROUNDS]]      (default 100 10000)
 */
#define _GNU_SOURCE
#include "bench.h"

#include <sys/socket.h>
#include <unistd.h>

static int rounds;
static int api; /* 0: read/write (interposed), 1: goro_read/goro_write */
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static ssize_t rd(int fd, void *b, size_t n)
{
    return api ? goro_read(fd, b, n) : read(fd, b, n);
}

static ssize_t wr(int fd, const void *b, size_t n)
{
    return api ? goro_write(fd, b, n) : write(fd, b, n);
}

/* Reads exactly n bytes. */
static void rd_full(int fd, char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = rd(fd, b + got, n - got);
        BENCH_CHECK(r > 0, "read: %zd", r);
        got += (size_t)r;
    }
}

static void pinger(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b[64] = {1};
    for (int i = 0; i < rounds; i++) {
        BENCH_CHECK(wr(fd, b, sizeof b) == (ssize_t)sizeof b, "write");
        rd_full(fd, b, sizeof b);
    }
    goro_waitgroup_done(&wg);
}

static void ponger(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b[64];
    for (int i = 0; i < rounds; i++) {
        rd_full(fd, b, sizeof b);
        BENCH_CHECK(wr(fd, b, sizeof b) == (ssize_t)sizeof b, "write");
    }
    goro_waitgroup_done(&wg);
}

static double run(int pairs)
{
    int (*sv)[2] = calloc((size_t)pairs, sizeof *sv);
    BENCH_CHECK(sv != NULL, "calloc");
    for (int i = 0; i < pairs; i++)
        BENCH_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) == 0, "socketpair");
    int64_t t0 = goro_now();
    goro_waitgroup_add(&wg, 2 * pairs);
    for (int i = 0; i < pairs; i++) {
        goro_go(pinger, (void *)(intptr_t)sv[i][0]);
        goro_go(ponger, (void *)(intptr_t)sv[i][1]);
    }
    goro_waitgroup_wait(&wg);
    double ns = (double)(goro_now() - t0) / ((double)pairs * rounds);
    for (int i = 0; i < pairs; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
    free(sv);
    return ns;
}

int main(int argc, char **argv)
{
    int pairs = argc > 1 ? atoi(argv[1]) : 100;
    rounds = argc > 2 ? atoi(argv[2]) : 10000;
    BENCH_CHECK(pairs > 0 && rounds > 0, "usage: hook [PAIRS [ROUNDS]]");
    api = 1;
    double native = run(pairs);
    api = 0;
    double hooked = run(pairs);
    printf("hook_goro_read ns_per_roundtrip %.1f ns\n", native);
    printf("hook_read ns_per_roundtrip %.1f ns\n", hooked);
    return 0;
}
