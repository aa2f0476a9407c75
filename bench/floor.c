/* floor: what the kernel charges for a fresh goroutine stack on this
 * machine, without goro: N slots of the default stack size (256 KiB) in
 * chunks of 64 mapped with one mmap each, as goro's stack pool maps them,
 * and one write to the top page of each slot (where goro puts the G and
 * the first frames).  Metric: ns per slot, the page-fault floor under B7's
 * spawn time (docs/benchmarks.md).  Argument 1: N (default 1,000,000);
 * argument 2, "guard": also install each slot's guard page as goro does on
 * Linux 6.13+ (MADV_GUARD_INSTALL, one madvise per slot here; goro batches
 * 64 a call), reported as floor_guard. */
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE, madvise */
#include "bench.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SLOT (256 * 1024)
#define CHUNK 64

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    bool guard = argc > 2 && strcmp(argv[2], "guard") == 0;
    BENCH_CHECK(n >= CHUNK && n <= 10000000, "argument 1: slot count (64 .. 10000000)");
    long page = sysconf(_SC_PAGESIZE);
    int64_t t0 = now_ns();
    for (long c = 0; c < n / CHUNK; c++) {
        char *base = mmap(NULL, (size_t)SLOT * CHUNK, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        BENCH_CHECK(base != MAP_FAILED, "mmap: %s", strerror(errno));
        for (int i = 0; i < CHUNK; i++) {
            char *slot = base + (size_t)i * SLOT;
            if (guard)
                BENCH_CHECK(madvise(slot, (size_t)page, MADV_GUARD_INSTALL) == 0,
                            "madvise(MADV_GUARD_INSTALL): %s", strerror(errno));
            slot[SLOT - 64] = 1;
        }
    }
    double ns = (double)(now_ns() - t0) / (double)(n / CHUNK * CHUNK);
    printf("floor: %ld slots of %d KiB, first write to each top page%s\n", n / CHUNK * CHUNK,
           SLOT / 1024, guard ? ", guard page each" : "");
    bench_report(guard ? "floor_guard" : "floor", "ns_per_slot", ns, "ns");
    return 0;
}
