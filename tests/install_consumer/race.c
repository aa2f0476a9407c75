/* race.c - a data race on purpose, for the race build of an installed goro
 * (scripts/install-test.sh): two goroutines increment a plain counter with
 * nothing ordering them.  Built with `pkg-config --cflags --libs goro-tsan`
 * ThreadSanitizer must report "WARNING: ThreadSanitizer: data race". */
#include <goro.h>

#include <stdio.h>

static long counter; /* racy on purpose */
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void add(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        counter++;
        if (i % 100 == 0)
            goro_yield();
    }
    goro_waitgroup_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    goro_waitgroup_add(&wg, 2);
    goro_go(add, NULL);
    goro_go(add, NULL);
    goro_waitgroup_wait(&wg);
}

int main(void)
{
    goro_main(body, NULL);
    printf("counter %ld\n", counter);
    return 0;
}
