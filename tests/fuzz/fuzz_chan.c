/* fuzz_chan.c - libFuzzer target for channels and select.
 *
 * The input is a program in two parts.
 *
 * 1. Sequential, checked against an exact model: up to 4 channels of
 *    capacity 0..3, driven from the fuzzer's thread with try_send, try_recv,
 *    close, len/cap and selects with a default or an immediate timeout only,
 *    so nothing blocks and the outcome is deterministic up to select's random
 *    choice (which is checked to be a ready case): FIFO contents, EPIPE after
 *    close, EAGAIN when full or empty, zero-filled elements from a closed
 *    channel.
 * 2. Concurrent: fresh channels, 1..4 goroutines running their share of the
 *    remaining bytes with try ops, close and selects with default or short
 *    timeouts.  Checked afterwards: every value received was sent on that
 *    channel and is received once, the values still buffered make up the
 *    rest (conservation), one sender's values reach one receiver in order,
 *    at most one close succeeds, and a goroutine that saw a channel closed
 *    never sends on it again.
 *
 * Build: configure with -DGORO_FUZZ=ON and clang (scripts/fuzz.sh does).
 */
#include <goro.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXCH 4
#define MAXG 4
#define MAXOPS 256              /* per goroutine in part 2 */

#define CHECK(cond, ...)                                                       \
    ((cond) ? (void)0 : check_failed(__FILE__, __LINE__, #cond, __VA_ARGS__))

static __attribute__((noreturn, format(printf, 4, 5))) void
check_failed(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_chan: %s:%d: check failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- part 1: the sequential model ------------------------------------------ */

struct model {
    size_t cap, len, head;
    uint32_t buf[3];
    bool closed;
};

static bool m_can_send(struct model *m) { return m->closed || m->len < m->cap; }
static bool m_can_recv(struct model *m) { return m->closed || m->len > 0; }

static void m_push(struct model *m, uint32_t v)
{
    m->buf[(m->head + m->len) % 3] = v;
    m->len++;
}

/* A receive that happened: checks the value (and ok) against the model. */
static void m_recv(struct model *m, uint32_t got, bool ok, const char *what)
{
    if (m->len > 0) {
        uint32_t want = m->buf[m->head];
        CHECK(ok && got == want, "%s: got %u ok %d, want %u", what, got, ok, want);
        m->head = (m->head + 1) % 3;
        m->len--;
    } else {
        CHECK(m->closed, "%s: received from an empty open channel", what);
        CHECK(!ok && got == 0, "%s: closed and drained, got %u ok %d", what, got, ok);
    }
}

static size_t sequential(const uint8_t *d, size_t n, int nch, const size_t *caps)
{
    goro_chan *c[MAXCH];
    struct model m[MAXCH] = {{0}};
    uint32_t next = 1;
    size_t i = 0;

    for (int k = 0; k < nch; k++) {
        c[k] = goro_chan_make(sizeof(uint32_t), caps[k]);
        CHECK(c[k], "chan_make: errno %d", errno);
        m[k].cap = caps[k];
    }
    size_t nops = n ? d[i++] % 64 : 0;
    for (size_t op = 0; op < nops && i < n; op++) {
        uint8_t b = d[i++];
        int a = (b >> 3) % nch, z = (b >> 5) % nch;
        struct model *ma = &m[a], *mz = &m[z];
        uint32_t v = 0, got = 0xdeadbeef, got2 = 0xdeadbeef;
        bool ok = true;
        int r;
        switch (b & 7) {
        case 0:                 /* try_send */
            v = next++;
            r = goro_chan_try_send(c[a], &v);
            if (ma->closed)
                CHECK(r == EPIPE, "try_send on closed: %d", r);
            else if (ma->len < ma->cap)
                CHECK(r == 0, "try_send with room: %d", r), m_push(ma, v);
            else
                CHECK(r == EAGAIN, "try_send when full: %d", r);
            break;
        case 1:                 /* try_recv */
            r = goro_chan_try_recv(c[a], &got);
            if (!m_can_recv(ma))
                CHECK(r == EAGAIN, "try_recv when empty: %d", r);
            else
                CHECK(r == (ma->len ? 0 : EPIPE), "try_recv: %d", r), m_recv(ma, got, r == 0, "try_recv");
            break;
        case 2:                 /* close */
            r = goro_chan_close(c[a]);
            CHECK(r == (ma->closed ? EPIPE : 0), "close: %d (closed %d)", r, ma->closed);
            ma->closed = true;
            break;
        case 3:                 /* select { send a; recv z; default } */
            v = next++;
            r = GORO_SELECT(goro_case_send(c[a], &v), goro_case_recv_ok(c[z], &got, &ok),
                            goro_case_default());
            if (r == 2) {
                CHECK(!m_can_send(ma) && !m_can_recv(mz), "default taken with a case ready");
            } else if (r == -EPIPE) {
                CHECK(ma->closed, "-EPIPE from an open channel");
            } else if (r == 0) {
                CHECK(!ma->closed && ma->len < ma->cap, "send case chosen, not ready");
                m_push(ma, v);
            } else {
                CHECK(r == 1, "select returned %d", r);
                CHECK(m_can_recv(mz), "recv case chosen, not ready");
                m_recv(mz, got, ok, "select recv");
            }
            break;
        case 4:                 /* select { recv a (ok); timeout 0 } */
            r = GORO_SELECT(goro_case_recv_ok(c[a], &got, &ok), goro_case_timeout(0));
            CHECK(r == 0 || r == 1, "select returned %d", r);
            if (r == 0) {
                CHECK(m_can_recv(ma), "recv case chosen, not ready");
                m_recv(ma, got, ok, "select recv/timeout");
            }
            break;
        case 5:                 /* len, cap */
            CHECK(goro_chan_len(c[a]) == ma->len, "len %zu, want %zu", goro_chan_len(c[a]), ma->len);
            CHECK(goro_chan_cap(c[a]) == ma->cap, "cap %zu, want %zu", goro_chan_cap(c[a]), ma->cap);
            break;
        case 6:                 /* select { send a; timeout 0 } */
            v = next++;
            r = GORO_SELECT(goro_case_send(c[a], &v), goro_case_timeout(0));
            if (r == -EPIPE)
                CHECK(ma->closed, "-EPIPE from an open channel");
            else if (r == 0)
                CHECK(!ma->closed && ma->len < ma->cap, "send chosen, not ready"), m_push(ma, v);
            else
                CHECK(r == 1, "select returned %d", r);
            break;
        case 7: {               /* select { recv a; recv z; default } */
            bool ok2 = true;
            r = GORO_SELECT(goro_case_recv_ok(c[a], &got, &ok), goro_case_recv_ok(c[z], &got2, &ok2),
                            goro_case_default());
            if (r == 2)
                CHECK(!m_can_recv(ma) && !m_can_recv(mz), "default taken with a case ready");
            else if (r == 0)
                CHECK(m_can_recv(ma), "recv 0 not ready"), m_recv(ma, got, ok, "select recv 0");
            else
                CHECK(r == 1 && m_can_recv(mz), "select %d", r), m_recv(mz, got2, ok2, "select recv 1");
            break;
        }
        }
    }
    for (int k = 0; k < nch; k++) {
        CHECK(goro_chan_len(c[k]) == m[k].len, "final len");
        goro_chan_release(c[k]);
    }
    return i;
}

/* ---- part 2: goroutines, conservation -------------------------------------- */

struct rec {
    uint8_t ch;
    uint32_t v;
};

struct gstate {
    int id, nch;
    goro_chan **c;
    const uint8_t *ops;
    size_t nops;
    struct rec sent[MAXOPS], recvd[MAXOPS];
    size_t nsent, nrecvd;
    int closes[MAXCH];
    goro_waitgroup *wg;
};

static uint32_t value_of(int g, size_t seq) { return (uint32_t)(g + 1) << 20 | (uint32_t)seq; }

static void worker(void *arg)
{
    struct gstate *s = arg;
    bool seen_closed[MAXCH] = {false};

    for (size_t i = 0; i < s->nops; i++) {
        uint8_t b = s->ops[i];
        int a = (b >> 3) % s->nch, z = (b >> 5) % s->nch;
        uint32_t v = value_of(s->id, i), got = 0;
        bool ok = true;
        int r, send_r = -1;
        switch (b & 7) {
        case 0:
            send_r = goro_chan_try_send(s->c[a], &v);
            CHECK(send_r == 0 || send_r == EAGAIN || send_r == EPIPE, "try_send %d", send_r);
            break;
        case 1:
            r = goro_chan_try_recv(s->c[a], &got);
            CHECK(r == 0 || r == EAGAIN || r == EPIPE, "try_recv %d", r);
            if (r == 0)
                s->recvd[s->nrecvd++] = (struct rec){(uint8_t)a, got};
            else if (r == EPIPE)
                seen_closed[a] = true, CHECK(got == 0, "closed recv not zeroed");
            break;
        case 2:
            r = goro_chan_close(s->c[a]);
            CHECK(r == 0 || r == EPIPE, "close %d", r);
            CHECK(!(r == 0 && seen_closed[a]), "close succeeded on a channel seen closed");
            s->closes[a] += r == 0;
            seen_closed[a] = true;
            break;
        case 3:
        case 7:
            r = GORO_SELECT(goro_case_send(s->c[a], &v), goro_case_recv_ok(s->c[z], &got, &ok),
                            (b & 7) == 3 ? goro_case_timeout(0) : goro_case_default());
            if (r == 0 || r == -EPIPE)
                send_r = r == 0 ? 0 : EPIPE;
            else if (r == 1 && ok)
                s->recvd[s->nrecvd++] = (struct rec){(uint8_t)z, got};
            else if (r == 1)
                seen_closed[z] = true, CHECK(got == 0, "closed recv not zeroed");
            else
                CHECK(r == 2, "select %d", r);
            break;
        case 4:
            r = GORO_SELECT(goro_case_recv_ok(s->c[a], &got, &ok),
                            goro_case_timeout(20 * GORO_MICROSECOND));
            if (r == 0 && ok)
                s->recvd[s->nrecvd++] = (struct rec){(uint8_t)a, got};
            else if (r == 0)
                seen_closed[a] = true;
            else
                CHECK(r == 1, "select %d", r);
            break;
        case 5:
            r = GORO_SELECT(goro_case_send(s->c[a], &v), goro_case_timeout(20 * GORO_MICROSECOND));
            CHECK(r == 0 || r == 1 || r == -EPIPE, "select %d", r);
            if (r != 1)
                send_r = r == 0 ? 0 : EPIPE;
            break;
        case 6:
            goro_yield();
            break;
        }
        if (send_r == 0) {
            CHECK(!seen_closed[a], "send succeeded on a channel this goroutine saw closed");
            s->sent[s->nsent++] = (struct rec){(uint8_t)a, v};
        } else if (send_r == EPIPE) {
            seen_closed[a] = true;
        }
    }
    goro_waitgroup_done(s->wg);
}

static struct gstate gs[MAXG];

static void concurrent(const uint8_t *d, size_t n, int nch, const size_t *caps)
{
    goro_chan *c[MAXCH];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    int ng;

    if (n < 1)
        return;
    ng = 1 + d[0] % MAXG;
    d++, n--;
    for (int k = 0; k < nch; k++) {
        c[k] = goro_chan_make(sizeof(uint32_t), caps[k]);
        CHECK(c[k], "chan_make");
    }
    /* Goroutine g runs a contiguous share of the bytes. */
    size_t share = (n + (size_t)ng - 1) / (size_t)ng;
    if (share > MAXOPS)
        share = MAXOPS;
    goro_waitgroup_add(&wg, ng);
    for (int g = 0; g < ng; g++) {
        struct gstate *s = &gs[g];
        size_t off = (size_t)g * share;
        memset(s, 0, sizeof *s);
        *s = (struct gstate){.id = g, .nch = nch, .c = c, .wg = &wg,
                             .ops = d + (off < n ? off : n),
                             .nops = off < n ? (n - off < share ? n - off : share) : 0};
        int e = goro_go(worker, s);
        CHECK(e == 0, "goro_go %d", e);
    }
    goro_waitgroup_wait(&wg);

    /* Drain what is left; then check conservation, uniqueness and order. */
    static struct rec left[MAXCH * 4];
    size_t nleft = 0;
    for (int k = 0; k < nch; k++) {
        uint32_t v;
        size_t len = goro_chan_len(c[k]);
        CHECK(len <= caps[k], "len %zu > cap %zu", len, caps[k]);
        while (goro_chan_try_recv(c[k], &v) == 0) {
            CHECK(nleft < MAXCH * 4, "more buffered than the capacity");
            left[nleft++] = (struct rec){(uint8_t)k, v};
        }
        CHECK(nleft <= MAXCH * 3, "buffered beyond capacity");
    }
    static uint8_t taken[MAXG][MAXOPS]; /* 0: not sent; 1 + ch: sent; 0xff: received */
    memset(taken, 0, sizeof taken);
    size_t total_sent = 0, total_got = nleft;
    for (int g = 0; g < ng; g++) {
        for (size_t i = 0; i < gs[g].nsent; i++) {
            uint32_t v = gs[g].sent[i].v;
            taken[(v >> 20) - 1][v & 0xfffff] = (uint8_t)(1 + gs[g].sent[i].ch);
        }
        total_sent += gs[g].nsent;
    }
    for (int g = -1; g < ng; g++) {
        struct rec *r = g < 0 ? left : gs[g].recvd;
        size_t nr = g < 0 ? nleft : gs[g].nrecvd;
        uint32_t last[MAXG][MAXCH];
        memset(last, 0, sizeof last);
        if (g >= 0)
            total_got += nr;
        for (size_t i = 0; i < nr; i++) {
            uint32_t v = r[i].v, sg = (v >> 20) - 1, seq = v & 0xfffff;
            CHECK(v >> 20 >= 1 && sg < (uint32_t)ng && seq < MAXOPS, "value %#x never made", v);
            CHECK(taken[sg][seq] != 0xff, "value %#x received twice", v);
            CHECK(taken[sg][seq] == 1 + r[i].ch, "value %#x received on ch %d, sent on %d", v,
                  r[i].ch, taken[sg][seq] - 1);
            taken[sg][seq] = 0xff;
            /* One sender, one receiver, one channel: FIFO. */
            CHECK(seq + 1 > last[sg][r[i].ch], "value %#x out of order", v);
            last[sg][r[i].ch] = seq + 1;
        }
    }
    CHECK(total_got == total_sent, "sent %zu, received + buffered %zu", total_sent, total_got);
    for (int k = 0; k < nch; k++) {
        int closes = 0;
        for (int g = 0; g < ng; g++)
            closes += gs[g].closes[k];
        CHECK(closes <= 1, "%d closes of channel %d succeeded", closes, k);
        goro_chan_release(c[k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    size_t caps[MAXCH];
    int nch;

    if (n < 1)
        return 0;
    if (n > 4096)
        n = 4096;
    nch = 1 + d[0] % MAXCH;
    d++, n--;
    for (int k = 0; k < nch; k++)
        caps[k] = k < (int)n ? d[k] % 4 : 0;
    size_t skip = (size_t)nch < n ? (size_t)nch : n;
    d += skip, n -= skip;
    size_t used = sequential(d, n, nch, caps);
    concurrent(d + used, n - used, nch, caps);
    return 0;
}
