/* B7 memory on libdill: N coroutines (argument 1) each blocked receiving
 * from one gate channel; RSS growth per coroutine and spawn time (from the
 * first go() until the last coroutine has arrived at its receive), then
 * chdone() on the gate and wait for all.  As bench/memory.c, on one thread.
 * Argument 2, "bytes" (default) or "spawn", picks the last line.
 *
 * libdill's default stacks are 256 KiB each, one malloc (an mmap) apiece:
 * a million of them exceed the kernel's map count.  So the coroutines run
 * on 16 KiB slots of one MAP_NORESERVE mapping (go_mem); only the pages a
 * coroutine touches become resident, as with goro and Go. */
#include "../peer.h"

#include <errno.h>
#include <libdill.h>
#include <sys/mman.h>

#define SLOT (16 * 1024)

static long n, arrived;
static int64_t t_last;

static coroutine void sleeper(int gate)
{
    if (++arrived == n)
        t_last = peer_now();
    char c;
    int e = chrecv(gate, &c, 0, -1);
    PEER_CHECK(e == -1 && errno == EPIPE, "chrecv on the gate: %d, errno %d, want EPIPE", e,
               errno);
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 100000;
    const char *last = argc > 2 ? argv[2] : "bytes";
    PEER_CHECK(n > 0 && n <= 10000000, "argument 1: coroutine count");
    PEER_CHECK(strcmp(last, "bytes") == 0 || strcmp(last, "spawn") == 0,
               "argument 2: bytes or spawn");
    char *mem = mmap(NULL, (size_t)n * SLOT, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    PEER_CHECK(mem != MAP_FAILED, "mmap: %s", strerror(errno));
    int gate[2];
    PEER_CHECK(chmake(gate) == 0, "chmake: %s", strerror(errno));
    int b = bundle();
    PEER_CHECK(b >= 0, "bundle: %s", strerror(errno));
    long rss0 = peer_rss_pages();
    int64_t t0 = peer_now();
    for (long i = 0; i < n; i++)
        PEER_CHECK(bundle_go_mem(b, sleeper(gate[1]), mem + (size_t)i * SLOT, SLOT) == 0,
                   "bundle_go_mem: %s", strerror(errno));
    PEER_CHECK(arrived == n, "%ld arrived, want %ld", arrived, n);
    double spawn_ms = (double)(t_last - t0) / 1e6;
    long rss1 = peer_rss_pages();
    double bytes_per = (double)(rss1 - rss0) * (double)sysconf(_SC_PAGESIZE) / (double)n;
    int64_t t1 = peer_now();
    PEER_CHECK(chdone(gate[0]) == 0, "chdone: %s", strerror(errno));
    PEER_CHECK(bundle_wait(b, -1) == 0, "bundle_wait: %s", strerror(errno));
    double teardown_ms = (double)(peer_now() - t1) / 1e6;
    hclose(b);
    char bname[64], sname[64];
    peer_memory_names(n, bname, sname, sizeof bname);
    printf("memory (libdill): %ld coroutines parked, 1 thread; close + wait %.1f ms\n", n,
           teardown_ms);
    if (strcmp(last, "bytes") == 0) {
        peer_report(sname, "spawn_ms", spawn_ms, "ms");
        peer_report(bname, "bytes_per_goroutine", bytes_per, "B");
    } else {
        peer_report(bname, "bytes_per_goroutine", bytes_per, "B");
        peer_report(sname, "spawn_ms", spawn_ms, "ms");
    }
    return 0;
}
