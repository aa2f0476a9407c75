/* bench.h - helpers shared by the goro benchmarks (bench/<name>.c).
 *
 * Every benchmark prints its metric as its LAST line, in the format that
 * bench/run (and any other harness) parses:
 *     <name> <metric> <value> <unit>
 * e.g. "pingpong_p1 ns_per_roundtrip 130.2 ns".  A failed self-check prints
 * "FAIL: ..." on stderr and exits with status 1.
 */
#ifndef GORO_BENCH_H
#define GORO_BENCH_H

#include "goro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_CHECK(cond, ...)                                                 \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                             \
            fputc('\n', stderr);                                               \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Aborts on a goro call that returned an error (they return 0 or errno). */
#define BENCH_OK(call)                                                         \
    do {                                                                       \
        int bench_e_ = (call);                                                 \
        BENCH_CHECK(bench_e_ == 0, "%s: %s", #call, strerror(bench_e_));       \
    } while (0)

static inline goro_chan *bench_chan(size_t elem_size, size_t cap)
{
    goro_chan *c = goro_chan_make(elem_size, cap);
    BENCH_CHECK(c != NULL, "goro_chan_make(%zu, %zu) failed", elem_size, cap);
    return c;
}

static inline void bench_report(const char *name, const char *metric, double value,
                                const char *unit)
{
    printf("%s %s %.1f %s\n", name, metric, value, unit);
    fflush(stdout);
}

/* "1" -> 1 P (goro_maxprocs(1)); "all" or nothing -> every CPU (the
 * default, GORO_MAXPROCS from the environment).  Returns the P count used. */
static inline int bench_procs(int argc, char **argv, int argi)
{
    const char *a = argc > argi ? argv[argi] : "all";
    if (strcmp(a, "all") != 0) {
        int n = atoi(a);
        BENCH_CHECK(n > 0, "bad P count '%s' (a number or 'all')", a);
        goro_maxprocs(n);
    }
    return goro_maxprocs(0);
}

#endif
