/* goroutines.c - how cheap a goroutine is.  Starts N goroutines (default
 * 100000; pass another N) that all stay alive at once, parked on one
 * channel, and reports the time per start and the memory per goroutine;
 * then closes the channel, which wakes them all, and waits for them.
 * Go: go f(), a closed channel as a broadcast, sync.WaitGroup.
 */
#define _POSIX_C_SOURCE 200809L
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static goro_chan *release_all;          /* closed when they may finish */
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void sleeper(void *arg)
{
    (void)arg;
    goro_chan_recv(release_all, NULL);  /* parks until the close */
    goro_waitgroup_done(&wg);
}

/* Resident memory in bytes (Linux). */
static long rss(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;

    release_all = goro_chan_make(0, 0);
    if (!release_all || n < 1) {
        fprintf(stderr, "usage: %s [N > 0]\n", argv[0]);
        return 1;
    }
    long rss0 = rss();
    int64_t t0 = goro_now();
    goro_waitgroup_add(&wg, (int)n);
    for (long i = 0; i < n; i++) {
        int e = goro_go(sleeper, NULL);
        if (e != 0) {
            fprintf(stderr, "goro_go failed after %ld goroutines: error %d\n", i, e);
            return 1;
        }
    }
    int64_t t1 = goro_now();
    printf("started %ld goroutines in %.1f ms (%.2f us each)\n", n,
           (double)(t1 - t0) / GORO_MILLISECOND, (double)(t1 - t0) / GORO_MICROSECOND / n);
    printf("%d goroutines alive, about %.1f KiB of memory each\n", goro_num_goroutine(),
           (double)(rss() - rss0) / 1024 / n);

    goro_chan_close(release_all); /* wakes every one of them */
    goro_waitgroup_wait(&wg);
    printf("all %ld goroutines finished in %.1f ms\n", n,
           (double)(goro_now() - t1) / GORO_MILLISECOND);
    goro_chan_release(release_all);
    return 0;
}
