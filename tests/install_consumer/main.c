/* main.c - the smallest goro program, built against an installed goro by
 * run.cmake and scripts/install-test.sh (find_package, pkg-config, static,
 * the Debian packages, the sanitizer builds) and against a vendored goro by
 * tests/vendor_consumer.  A goroutine started from goro_main's goroutine
 * writes a variable, then sends on an unbuffered channel; the receiver reads
 * the variable (ordered by the channel: no race for ThreadSanitizer).  It
 * also checks that the library's goro_version() is the header's
 * GORO_VERSION, and prints "ok". */
#include <goro.h>

#include <errno.h>
#include <stdio.h>

static int payload; /* written before the send, read after the receive */

static void child(void *arg)
{
    goro_chan *c = arg;
    int v = 7;
    payload = 42;
    goro_chan_send(c, &v);
}

static void body(void *arg)
{
    int *err = arg;
    goro_chan *c = goro_chan_make(sizeof(int), 0);
    if (c == NULL) {
        *err = errno;
        return;
    }
    int v = 0;
    *err = goro_go(child, c);
    if (*err == 0)
        *err = goro_chan_recv(c, &v);
    if (*err == 0 && (v != 7 || payload != 42))
        *err = -1;
    goro_chan_release(c);
}

int main(void)
{
    if (goro_version() != GORO_VERSION) {
        fprintf(stderr, "goro_version() %d, goro.h %d\n", goro_version(), GORO_VERSION);
        return 1;
    }
    int err = 0;
    int rc = goro_main(body, &err);
    if (rc != 0 || err != 0) {
        fprintf(stderr, "goro_main: %d, body: %d\n", rc, err);
        return 1;
    }
    puts("ok");
    return 0;
}
