/* chan_ok.c - no race: a write before a send happens before the read after
 * the matching receive (unbuffered and buffered channels, and a close). */
#include <goro.h>
#include <stdio.h>

static long data[3];
static goro_chan *unbuf, *buf, *closed, *fin;

static void writer(void *arg)
{
    (void)arg;
    int v = 1;
    data[0] = 42;
    goro_chan_send(unbuf, &v);      /* data[0] before the receive */
    data[1] = 43;
    goro_chan_send(buf, &v);        /* data[1] before the receive */
    data[2] = 44;
    goro_chan_close(closed);        /* data[2] before the receive of the close */
    goro_chan_send(fin, &v);
}

static void body(void *arg)
{
    (void)arg;
    int v;
    unbuf = goro_chan_make(sizeof(int), 0);
    buf = goro_chan_make(sizeof(int), 2);
    closed = goro_chan_make(0, 0);
    fin = goro_chan_make(sizeof(int), 0);
    if (!unbuf || !buf || !closed || !fin || goro_go(writer, NULL))
        return;
    goro_chan_recv(unbuf, &v);
    long a = data[0];
    goro_chan_recv(buf, &v);
    long b = data[1];
    goro_chan_recv(closed, NULL);
    long c = data[2];
    goro_chan_recv(fin, &v);
    printf("%ld %ld %ld\n", a, b, c);
    goro_chan_release(unbuf);
    goro_chan_release(buf);
    goro_chan_release(closed);
    goro_chan_release(fin);
}

int main(void)
{
    return goro_main(body, NULL);
}
