/* peer.h - helpers shared by the peer programs (bench/peers/LIBRARY/NAME.c):
 * the same work as goro's bench/<name>.c, written against a single-threaded
 * C coroutine library, printing the same last line ("name metric value
 * unit") so bench/run reads them alike.  Only the C library is needed. */
#ifndef GORO_PEER_H
#define GORO_PEER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PEER_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                             \
            fputc('\n', stderr);                                               \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static inline int64_t peer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline long peer_rss_pages(void)
{
    long size = 0, rss = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    PEER_CHECK(f != NULL, "cannot open /proc/self/statm");
    PEER_CHECK(fscanf(f, "%ld %ld", &size, &rss) == 2, "cannot parse /proc/self/statm");
    fclose(f);
    return rss;
}

static inline void peer_report(const char *name, const char *metric, double value,
                               const char *unit)
{
    printf("%s %s %.1f %s\n", name, metric, value, unit);
    fflush(stdout);
}

/* memory_100k / memory_1m / memory_<n>: the row names of bench/memory.c. */
static inline void peer_memory_names(long n, char *bname, char *sname, size_t len)
{
    char tag[32];
    if (n % 1000000 == 0)
        snprintf(tag, sizeof tag, "%ldm", n / 1000000);
    else if (n % 1000 == 0)
        snprintf(tag, sizeof tag, "%ldk", n / 1000);
    else
        snprintf(tag, sizeof tag, "%ld", n);
    snprintf(bname, len, "memory_%s_bytes", tag);
    snprintf(sname, len, "memory_%s_spawn", tag);
}

#endif
