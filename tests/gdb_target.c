/* gdb_target.c - a program with parked goroutines for tests/gdb_test.sh:
 * three goroutines block in a channel receive a known number of frames
 * deep, then the main thread stops itself with SIGTRAP so gdb can look.
 * The third has a stack of its own size (its G is a header in a slab, not
 * at the top of a chunk slot), and gdb_test.sh backtraces that one. */
#include <goro.h>

#include <signal.h>
#include <stdio.h>

static goro_chan *c;

__attribute__((noinline)) static void blocked_in_recv(int depth)
{
    if (depth > 0) {
        blocked_in_recv(depth - 1);
        __asm__ volatile(""); /* not a tail call: keep the frames */
        return;
    }
    goro_chan_recv(c, NULL);
}

static void worker(void *arg)
{
    blocked_in_recv((int)(long)arg);
}

int main(void)
{
    c = goro_chan_make(0, 0);
    for (long i = 0; i < 2; i++)
        goro_go(worker, (void *)i);
    goro_go_attr(&(goro_attr){.stack_size = 128 << 10}, worker, (void *)2L);
    goro_sleep(200 * GORO_MILLISECOND); /* let them all park */
    raise(SIGTRAP);
    goro_chan_close(c);
    goro_sleep(10 * GORO_MILLISECOND);
    puts("gdb_target done");
    goro_chan_release(c);
    return 0;
}
