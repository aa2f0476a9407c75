/* soak.c - every part of goro under mixed load at once, then invariants.
 *
 *   soak [SECONDS]      (default: GORO_SOAK_SECONDS, else 5)
 *
 * For SECONDS, these run concurrently in one process:
 *   - a TCP echo server on 127.0.0.1 (goro_listen_tcp, goro_accept_ctx, one
 *     goroutine per connection reading and writing with deadlines);
 *   - short clients: dial (goro_dial_tcp under a timeout context), one to
 *     three request/echo exchanges of 1 B to 64 KiB, close, again;
 *   - long-lived clients: connections of 1 to 15 s with a writer and a
 *     reader goroutine on the same fd streaming a position-dependent byte
 *     pattern, ended by shutdown(SHUT_WR) and a read to end of file;
 *   - deadline probes: reads that must time out (goro_read_deadline, and
 *     goro_read_ctx on a timeout context and on one canceled by another
 *     goroutine), and a write into a peer that never reads, which must time
 *     out (goro_connect on a socket with small buffers, goro_write_deadline);
 *   - worker pools: goro_group batches with a random limit (the limit is
 *     checked, and one batch in four has a task that fails), and a channel
 *     pool (jobs and results channels, workers counted by a waitgroup);
 *   - timers and tickers: fire, stop, reset churn, with Go 1.23 semantics
 *     checked (no value after stop, the fire time not before the duration);
 *   - context trees of cancel, timeout, deadline and value nodes canceled
 *     at random, with watcher goroutines on their done channels;
 *   - selects over three channels with send, receive, timeout and
 *     nil-channel cases, channels closed under the receivers;
 *   - spawn churn: bursts of up to 300 goroutines (some with their own
 *     stack size) that yield, sleep or take a mutex, then exit.
 * Then it stops the load and checks: every echoed byte matched and bytes
 * sent == bytes received; every client connection was accepted; every
 * probe timed out as it must and the server saw at most one error per
 * write probe; every pool, select and churn count adds up; goroutines are
 * back to the baseline (goro_num_goroutine) and so are open fds; goro_stats
 * is consistent, and stacks and threads stopped growing after the warm-up
 * (min(10 s, SECONDS / 3)); RSS at the end is within max(32 MiB, 25%) of
 * RSS after the warm-up (512 MiB under ASan, 1 GiB under TSan: see
 * SOAK_RSS_SLACK_MB).  During the run: every timer and ticker rule above, every
 * context under a canceled one ended, every pool and select count.  It
 * prints one summary line and exits 1 if anything failed (each failure is
 * printed, the first 20 in full).
 *
 * Environment: GORO_SOAK_SEED (the random seed; printed, so a run can be
 * replayed as far as scheduling allows), GORO_SOAK_RSS_SLACK_MB (overrides
 * the floor of the RSS bound), GORO_TEST_TIMEOUT_SCALE (stretches every "must happen within" bound: 30 s
 * by default).  A watchdog thread
 * prints goro_dump() and exits 2 if shutdown has not finished 120 s (scaled)
 * after the end of the load.
 *
 * I/O results: any negative return is a failure, and the error number is
 * taken from errno when the return is -1 and from the return otherwise, so
 * the soak reads POSIX-style (-1, errno) and -errno results alike.  errno is
 * read through soak_errno(), out of line: a goroutine may resume on another
 * thread inside the call, and errno's address must be computed after it.
 */
#define _GNU_SOURCE
#include <goro.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#else
#define SOAK_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define SOAK_TSAN 1
#else
#define SOAK_TSAN 0
#endif
/* The floor of the RSS bound, in MiB.  The sanitizers' own memory grows for
 * a minute or so after the warm-up: ASan's quarantine of freed blocks (256
 * MiB by default), TSan's sync objects and access histories (measured: 460
 * to 700 MiB over 60 s), so their floor only catches gross leaks. */
#if SOAK_TSAN
#define SOAK_RSS_SLACK_MB 1024
#elif SOAK_ASAN
#define SOAK_RSS_SLACK_MB 512
#else
#define SOAK_RSS_SLACK_MB 32
#endif

#define MS GORO_MILLISECOND
#define US GORO_MICROSECOND
#define MIB (1024.0 * 1024.0)

#define SHORT_CLIENTS 6
/* Each short client starts at most one connection per SHORT_INTERVAL: the
 * client side closes first, so every connection leaves a TIME_WAIT socket
 * holding its ephemeral port for 60 s, and 6 / 15 ms = 400 a second stays
 * under the 28,000 ports of Linux's default range even where the kernel
 * does not reuse TIME_WAIT ports on loopback (net.ipv4.tcp_tw_reuse=0). */
#define SHORT_INTERVAL (15 * MS)
#define LONG_CLIENTS 4
#define TIMER_WORKERS 3
#define CTX_WORKERS 2
#define SELECT_PRODUCERS 3
#define SELECT_CONSUMERS 3
#define MAX_MSG (64 * 1024)
#define IO_CHUNK (16 * 1024)
#define MAX_FAIL_PRINTS 20

/* ---- configuration, set in main before the runtime starts ---------------- */

static int64_t g_duration;       /* ns of load */
static int64_t g_warm;           /* ns after the start at which RSS is the reference */
static int64_t g_long;           /* "must happen within": 30 s x scale */
static int64_t g_scale = 1;
static uint64_t g_seed;
static double g_rss_slack_mb = 32;
static double g_heap_slack_mb = 2;

/* ---- shared state ----------------------------------------------------------- */

static goro_ctx *g_stop;          /* canceled when the load ends */
static goro_ctx *g_srv_ctx;       /* canceled once every client is done */
static goro_waitgroup g_load = GORO_WAITGROUP_INIT;     /* load goroutines */
static goro_waitgroup g_srv = GORO_WAITGROUP_INIT;      /* connection handlers */
static int g_lfd = -1;
static char g_addr[64];
static struct sockaddr_in g_sin;

static atomic_int g_failures;
static atomic_uint_fast64_t g_salt;
static atomic_int g_shutdown_done;

/* Counters (relaxed: read once, after the goroutines that write them are
 * gone). */
static atomic_uint_fast64_t c_dials, c_short, c_long, c_accepts, c_srv_errors;
static atomic_uint_fast64_t c_sent, c_recv, c_bad;
static atomic_uint_fast64_t c_probe_read, c_probe_ctx, c_probe_cancel, c_probe_write;
static atomic_uint_fast64_t c_pool_tasks, c_pool_batches, c_pool_fail_batches, c_chan_jobs;
static atomic_uint_fast64_t c_timer_ops, c_ticks;
static atomic_uint_fast64_t c_ctx_trees, c_ctx_nodes, c_ctx_watchers;
static atomic_uint_fast64_t c_sel_values, c_sel_rounds, c_sel_timeouts;
static atomic_uint_fast64_t c_spawned, c_exited;

#define COUNT(c, n) atomic_fetch_add_explicit(&(c), (uint64_t)(n), memory_order_relaxed)
#define LOAD(c) ((unsigned long long)atomic_load(&(c)))

/* ---- helpers -------------------------------------------------------------- */

#if defined(__GNUC__) && !defined(__clang__)
#define SOAK_OPAQUE __attribute__((noinline, noipa))
#else
#define SOAK_OPAQUE __attribute__((noinline))
#endif

/* errno of the thread the goroutine runs on now (see the top of the file). */
static SOAK_OPAQUE int soak_errno(void)
{
    __asm__ volatile("" ::: "memory");
    return errno;
}

/* The error number of a failed goro I/O call's result r (< 0), read right
 * after the call: -1 and errno, or -errno. */
static int io_err(ssize_t r)
{
    return r == -1 ? soak_errno() : (int)-r;
}

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
    int n = atomic_fetch_add(&g_failures, 1);
    if (n >= MAX_FAIL_PRINTS)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "soak: FAIL (goroutine %" PRIu64 "): %s\n", goro_id(), msg);
}

static bool stopping(void)
{
    return goro_ctx_err(g_stop) != 0;
}

/* Sleeps ns, or less if the load ends; returns true when it has ended. */
static bool pause_ns(int64_t ns)
{
    if (ns <= 0)
        return stopping();
    return GORO_SELECT(goro_case_recv(goro_ctx_done(g_stop), NULL), goro_case_timeout(ns)) == 0;
}

/* xorshift64*, one per goroutine, seeded from the run's seed. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void rinit(rng *r)
{
    r->s = splitmix(g_seed ^ splitmix(atomic_fetch_add(&g_salt, 1) + 1)) | 1;
}

static uint64_t rnext(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dULL;
}

/* Uniform-ish in [0, n); 0 for n == 0. */
static uint64_t rbelow(rng *r, uint64_t n)
{
    return n ? rnext(r) % n : 0;
}

/* The byte at offset off of stream key: not periodic within a message, so a
 * lost, repeated or reordered chunk shows as a mismatch. */
static inline unsigned char pat(uint64_t key, uint64_t off)
{
    return (unsigned char)(((off ^ (off >> 7) ^ (off >> 15)) * 0x9d) + key);
}

static void fill(unsigned char *buf, size_t n, uint64_t key, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = pat(key, off + i);
}

/* Counts mismatching bytes and reports the first. */
static uint64_t verify(const unsigned char *buf, size_t n, uint64_t key, uint64_t off,
                       const char *who)
{
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != pat(key, off + i)) {
            if (bad == 0)
                failf("%s: byte %" PRIu64 " is 0x%02x, expected 0x%02x", who, off + i, buf[i],
                      pat(key, off + i));
            bad++;
        }
    }
    COUNT(c_bad, bad);
    return bad;
}

static long rss_bytes(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

/* Bytes malloc has handed out and not had back, -1 where that cannot be
 * told (glibc before 2.33, and the sanitizers, whose allocators glibc's
 * mallinfo2 does not see). */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)) && \
    !SOAK_ASAN && !SOAK_TSAN
static long heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long)(mi.uordblks + mi.hblkhd);
}
#else
static long heap_bytes(void)
{
    return -1;
}
#endif

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Reads exactly n bytes under ctx.  Returns 0, -1 at an early end of file,
 * or an error number. */
static int read_full_ctx(goro_ctx *ctx, int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = goro_read_ctx(ctx, fd, buf + got, n - got);
        if (r < 0)
            return io_err(r);
        if (r == 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* One request/echo exchange of len bytes at stream offset off.  Returns
 * true if it went through (failures are recorded). */
static bool exchange(goro_ctx *ctx, int fd, unsigned char *out, unsigned char *in, size_t len,
                     uint64_t key, uint64_t off, const char *who)
{
    fill(out, len, key, off);
    ssize_t w = goro_write_ctx(ctx, fd, out, len);
    if (w < 0) {
        int e = io_err(w);
        failf("%s: write of %zu: %s", who, len, strerror(e));
        return false;
    }
    if ((size_t)w != len) {
        failf("%s: write of %zu returned %zd", who, len, w);
        return false;
    }
    COUNT(c_sent, len);
    int rc = read_full_ctx(ctx, fd, in, len);
    if (rc != 0) {
        failf("%s: echo of %zu: %s", who, len, rc < 0 ? "early end of file" : strerror(rc));
        return false;
    }
    COUNT(c_recv, len);
    return verify(in, len, key, off, who) == 0;
}

static int dial(goro_ctx *ctx, const char *who)
{
    int fd = goro_dial_tcp(ctx, g_addr);
    if (fd < 0) {
        int e = io_err(fd);
        failf("%s: dial %s: %s", who, g_addr, strerror(e));
        return -1;
    }
    COUNT(c_dials, 1);
    return fd;
}

/* ---- echo server ---------------------------------------------------------- */

static void echo_handler(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char *buf = malloc(IO_CHUNK);

    while (buf) {
        ssize_t n = goro_read_deadline(fd, buf, IO_CHUNK, goro_now() + g_long);
        if (n == 0)
            break;
        if (n < 0) {
            COUNT(c_srv_errors, 1);
            break;
        }
        ssize_t w = goro_write_deadline(fd, buf, (size_t)n, goro_now() + g_long);
        if (w != n) {
            COUNT(c_srv_errors, 1);
            break;
        }
    }
    if (!buf)
        failf("server: out of memory");
    free(buf);
    goro_close(fd);
    goro_waitgroup_done(&g_srv);
}

static void accept_loop(void *arg)
{
    goro_chan *done = arg;
    for (;;) {
        int fd = goro_accept_ctx(g_srv_ctx, g_lfd, NULL, NULL);
        if (fd < 0) {
            int e = io_err(fd);
            if (e == ECANCELED && goro_ctx_err(g_srv_ctx))
                break;
            failf("server: accept: %s", strerror(e));
            goro_sleep(MS);
            continue;
        }
        COUNT(c_accepts, 1);
        goro_waitgroup_add(&g_srv, 1);
        int rc = goro_go(echo_handler, (void *)(intptr_t)fd);
        if (rc) {
            failf("server: goro_go: %s", strerror(rc));
            goro_close(fd);
            goro_waitgroup_done(&g_srv);
        }
    }
    goro_chan_close(done);
    goro_chan_release(done);
}

/* ---- short clients -------------------------------------------------------- */

static void short_client(void *arg)
{
    (void)arg;
    rng r;
    rinit(&r);
    unsigned char *out = malloc(MAX_MSG), *in = malloc(MAX_MSG);
    if (!out || !in)
        failf("short: out of memory");

    while (out && in && !stopping()) {
        int64_t started = goro_now();
        goro_ctx *ctx = goro_ctx_with_timeout(NULL, g_long);
        if (!ctx) {
            failf("short: goro_ctx_with_timeout: %s", strerror(soak_errno()));
            break;
        }
        int fd = dial(ctx, "short");
        if (fd >= 0) {
            uint64_t key = rnext(&r), off = 0;
            int rounds = 1 + (int)rbelow(&r, 3);
            for (int i = 0; i < rounds; i++) {
                size_t len = 1 + rbelow(&r, rbelow(&r, 4) == 0 ? MAX_MSG : 512);
                if (!exchange(ctx, fd, out, in, len, key, off, "short"))
                    break;
                off += len;
            }
            goro_close(fd);
            COUNT(c_short, 1);
        }
        goro_ctx_release(ctx);
        pause_ns(started + SHORT_INTERVAL + (int64_t)rbelow(&r, 3 * MS) - goro_now());
    }
    free(out);
    free(in);
    goro_waitgroup_done(&g_load);
}

/* ---- long-lived clients ------------------------------------------------- */

typedef struct lconn {
    int fd;
    uint64_t key;
    goro_chan *done;            /* the reader's byte count, then closed */
} lconn;

static void long_reader(void *arg)
{
    lconn *lc = arg;
    goro_chan *done = goro_chan_retain(lc->done);
    unsigned char *buf = malloc(IO_CHUNK);
    uint64_t total = 0;

    while (buf) {
        ssize_t n = goro_read_deadline(lc->fd, buf, IO_CHUNK, goro_now() + g_long);
        if (n == 0)
            break;
        if (n < 0) {
            int e = io_err(n);
            failf("long: read after %" PRIu64 " bytes: %s", total, strerror(e));
            break;
        }
        verify(buf, (size_t)n, lc->key, total, "long");
        total += (uint64_t)n;
        COUNT(c_recv, n);
    }
    if (!buf)
        failf("long: out of memory");
    free(buf);
    if (goro_chan_send(done, &total))
        failf("long: reader's send failed");
    goro_chan_release(done);
}

static void long_client(void *arg)
{
    (void)arg;
    rng r;
    rinit(&r);
    unsigned char *buf = malloc(IO_CHUNK);
    if (!buf)
        failf("long: out of memory");

    while (buf && !stopping()) {
        lconn lc = {.fd = dial(NULL, "long"), .key = rnext(&r)};
        if (lc.fd < 0) {
            pause_ns(10 * MS);
            continue;
        }
        lc.done = goro_chan_make(sizeof(uint64_t), 1);
        if (!lc.done) {
            failf("long: goro_chan_make: %s", strerror(soak_errno()));
            goro_close(lc.fd);
            break;
        }
        int rc = goro_go(long_reader, &lc);
        if (rc) {
            failf("long: goro_go: %s", strerror(rc));
            goro_chan_release(lc.done);
            goro_close(lc.fd);
            break;
        }
        int64_t until = goro_now() + (int64_t)(1 + rbelow(&r, 15)) * GORO_SECOND;
        uint64_t sent = 0;
        while (!stopping() && goro_now() < until) {
            size_t len = 1 + rbelow(&r, IO_CHUNK);
            fill(buf, len, lc.key, sent);
            ssize_t w = goro_write_deadline(lc.fd, buf, len, goro_now() + g_long);
            if (w < 0) {
                int e = io_err(w);
                failf("long: write after %" PRIu64 " bytes: %s", sent, strerror(e));
                break;
            }
            sent += len;
            COUNT(c_sent, len);
            pause_ns((int64_t)rbelow(&r, 20 * MS));
        }
        if (shutdown(lc.fd, SHUT_WR) != 0)
            failf("long: shutdown: %s", strerror(soak_errno()));
        /* Everything sent comes back before the server's end of file. */
        uint64_t got = 0;
        if (GORO_SELECT(goro_case_recv(lc.done, &got), goro_case_timeout(2 * g_long)) != 0)
            failf("long: the reader did not finish");
        else if (got != sent)
            failf("long: sent %" PRIu64 " bytes, echoed %" PRIu64, sent, got);
        goro_chan_release(lc.done);
        goro_close(lc.fd);
        COUNT(c_long, 1);
    }
    free(buf);
    goro_waitgroup_done(&g_load);
}

/* ---- deadline probes ------------------------------------------------------ */

/* Releases the context it was handed (which cancels it) after a short,
 * random sleep. */
static void ctx_canceler(void *arg)
{
    goro_ctx *ctx = arg;
    rng r;
    rinit(&r);
    goro_sleep((int64_t)rbelow(&r, 5 * MS));
    goro_ctx_release(ctx);
}

static void expect_timeout(ssize_t n, int e, int want, const char *what)
{
    if (n >= 0)
        failf("probe: %s returned %zd, expected %s", what, n, strerror(want));
    else if (e != want)
        failf("probe: %s failed with %s, expected %s", what, strerror(e), strerror(want));
}

/* A read that must time out on a connection the peer keeps silent, then an
 * exchange showing the connection still works. */
static void probe_read(rng *r, unsigned char *out, unsigned char *in)
{
    int fd = dial(NULL, "probe");
    if (fd < 0)
        return;
    ssize_t n = goro_read_deadline(fd, in, 1, goro_now() + MS + (int64_t)rbelow(r, 20 * MS));
    int e = n < 0 ? io_err(n) : 0;
    expect_timeout(n, e, ETIMEDOUT, "goro_read_deadline");
    goro_ctx *ctx = goro_ctx_with_timeout(NULL, g_long);
    if (ctx) {
        exchange(ctx, fd, out, in, 1 + rbelow(r, 4096), rnext(r), 0, "probe");
        goro_ctx_release(ctx);
    }
    goro_close(fd);
    COUNT(c_probe_read, 1);
}

/* goro_read_ctx on a context that times out, or on one another goroutine
 * cancels. */
static void probe_ctx(rng *r, bool cancel)
{
    int fd = dial(NULL, "probe");
    if (fd < 0)
        return;
    goro_ctx *ctx = cancel ? goro_ctx_with_cancel(NULL)
                           : goro_ctx_with_timeout(NULL, (int64_t)rbelow(r, 10 * MS));
    if (!ctx) {
        failf("probe: context: %s", strerror(soak_errno()));
        goro_close(fd);
        return;
    }
    if (cancel) {
        int rc = goro_go(ctx_canceler, goro_ctx_retain(ctx));
        if (rc) {
            failf("probe: goro_go: %s", strerror(rc));
            goro_ctx_release(ctx);
            goro_ctx_cancel(ctx);
        }
    }
    unsigned char b;
    ssize_t n = goro_read_ctx(ctx, fd, &b, 1);
    int e = n < 0 ? io_err(n) : 0;
    expect_timeout(n, e, cancel ? ECANCELED : ETIMEDOUT, "goro_read_ctx");
    goro_ctx_release(ctx);
    goro_close(fd);
    if (cancel)
        COUNT(c_probe_cancel, 1);
    else
        COUNT(c_probe_ctx, 1);
}

/* Writes into a connection whose reader never reads (small buffers on our
 * side) until the write deadline stops it.  The server's echo writes stall
 * too, and fail once we close. */
static void probe_write(unsigned char *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        failf("probe: socket: %s", strerror(soak_errno()));
        return;
    }
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    int rc = goro_connect(fd, (struct sockaddr *)&g_sin, sizeof g_sin);
    if (rc < 0) {
        int e = io_err(rc);
        failf("probe: goro_connect: %s", strerror(e));
        goro_close(fd);
        return;
    }
    COUNT(c_dials, 1);
    COUNT(c_probe_write, 1);
    memset(out, 0x5a, MAX_MSG);
    int64_t deadline = goro_now() + 50 * MS;
    uint64_t total = 0;
    for (;;) {
        ssize_t w = goro_write_deadline(fd, out, MAX_MSG, deadline);
        if (w < 0) {
            int e = io_err(w);
            expect_timeout(w, e, ETIMEDOUT, "goro_write_deadline");
            break;
        }
        total += (uint64_t)w;
        if (total > 512u << 20) {
            failf("probe: wrote %" PRIu64 " bytes to a peer that does not read", total);
            break;
        }
    }
    goro_close(fd);
}

static void prober(void *arg)
{
    (void)arg;
    rng r;
    rinit(&r);
    unsigned char *out = malloc(MAX_MSG), *in = malloc(MAX_MSG);
    int64_t next_write = goro_now();
    if (!out || !in)
        failf("probe: out of memory");

    while (out && in && !stopping()) {
        switch (rbelow(&r, 3)) {
        case 0: probe_read(&r, out, in); break;
        case 1: probe_ctx(&r, false); break;
        default: probe_ctx(&r, true); break;
        }
        if (goro_now() >= next_write) {
            probe_write(out);
            next_write = goro_now() + GORO_SECOND + (int64_t)rbelow(&r, GORO_SECOND);
        }
        pause_ns(20 * MS + (int64_t)rbelow(&r, 60 * MS));
    }
    free(out);
    free(in);
    goro_waitgroup_done(&g_load);
}

/* ---- worker pools ---------------------------------------------------------- */

typedef struct batch {
    int limit;
    int fail_at;                /* index of the task that returns EIO, or -1 */
    atomic_int running, max_running;
    atomic_uint_fast64_t sum;
} batch;

typedef struct task {
    batch *b;
    int idx;
    uint64_t in;
} task;

static int pool_task(goro_ctx *ctx, void *arg)
{
    task *t = arg;
    batch *b = t->b;
    int now = atomic_fetch_add(&b->running, 1) + 1;
    int max = atomic_load(&b->max_running);
    while (now > max && !atomic_compare_exchange_weak(&b->max_running, &max, now))
        ;
    int rc = 0;
    switch (t->idx % 4) {
    case 1: goro_yield(); break;
    case 2: goro_sleep((t->idx % 7) * 20 * US); break;
    default: break;
    }
    if (t->idx == b->fail_at)
        rc = EIO;
    else if (goro_ctx_err(ctx) && b->fail_at < 0)
        failf("pool: the group's context ended while its tasks ran");
    atomic_fetch_add(&b->sum, t->in * t->in);
    atomic_fetch_sub(&b->running, 1);
    COUNT(c_pool_tasks, 1);
    return rc;
}

static void group_batch(rng *r)
{
    int n = 1 + (int)rbelow(r, 200);
    task *tasks = calloc((size_t)n, sizeof *tasks);
    batch b = {.limit = 1 + (int)rbelow(r, 8), .fail_at = -1};
    if (rbelow(r, 4) == 0)
        b.fail_at = (int)rbelow(r, (uint64_t)n);
    goro_group *g = goro_group_make(NULL);
    if (!tasks || !g) {
        failf("pool: out of memory");
        free(tasks);
        goro_group_free(g);
        return;
    }
    goro_group_set_limit(g, b.limit);
    uint64_t want = 0;
    int started = 0;
    for (int i = 0; i < n; i++) {
        tasks[i] = (task){.b = &b, .idx = i, .in = rnext(r) >> 40};
        int rc = goro_group_go(g, pool_task, &tasks[i]);
        if (rc) {
            failf("pool: goro_group_go: %s", strerror(rc));
            continue;
        }
        want += tasks[i].in * tasks[i].in;
        started++;
    }
    int rc = goro_group_wait(g);
    if (b.fail_at >= 0 && rc != EIO)
        failf("pool: goro_group_wait returned %d, expected EIO", rc);
    if (b.fail_at < 0 && rc != 0)
        failf("pool: goro_group_wait returned %d, expected 0", rc);
    if (goro_ctx_err(goro_group_ctx(g)) == 0)
        failf("pool: the group's context is live after goro_group_wait");
    if (started == n && atomic_load(&b.sum) != want)
        failf("pool: sum %" PRIu64 ", expected %" PRIu64, (uint64_t)atomic_load(&b.sum), want);
    if (atomic_load(&b.max_running) > b.limit)
        failf("pool: %d tasks ran at once under a limit of %d", atomic_load(&b.max_running),
              b.limit);
    goro_group_free(g);
    free(tasks);
    COUNT(c_pool_batches, 1);
    if (b.fail_at >= 0)
        COUNT(c_pool_fail_batches, 1);
}

typedef struct cpool {
    goro_chan *jobs, *results;
    goro_waitgroup wg;
    int n;
} cpool;

static void cpool_worker(void *arg)
{
    cpool *p = arg;
    uint64_t j;
    while (goro_chan_recv(p->jobs, &j) == 0) {
        uint64_t v = j * j + 1;
        if (goro_chan_send(p->results, &v))
            failf("pool: results send failed");
    }
    goro_waitgroup_done(&p->wg);
}

/* Owns a reference to jobs; sends 1..n and closes. */
static void cpool_feeder(void *arg)
{
    cpool *p = arg;
    goro_chan *jobs = p->jobs;
    int n = p->n;
    for (uint64_t i = 1; i <= (uint64_t)n; i++)
        if (goro_chan_send(jobs, &i))
            failf("pool: jobs send failed");
    goro_chan_close(jobs);
    goro_chan_release(jobs);
}

/* Owns a reference to results; closes it once every worker is done. */
static void cpool_closer(void *arg)
{
    cpool *p = arg;
    goro_chan *results = p->results;
    goro_waitgroup_wait(&p->wg);
    goro_chan_close(results);
    goro_chan_release(results);
}

static void chan_batch(rng *r)
{
    cpool p = {.wg = GORO_WAITGROUP_INIT, .n = 1 + (int)rbelow(r, 500)};
    int workers = 1 + (int)rbelow(r, 8);
    p.jobs = goro_chan_make(sizeof(uint64_t), rbelow(r, 17));
    p.results = goro_chan_make(sizeof(uint64_t), rbelow(r, 17));
    if (!p.jobs || !p.results) {
        failf("pool: goro_chan_make: out of memory");
        goro_chan_release(p.jobs);
        goro_chan_release(p.results);
        return;
    }
    goro_waitgroup_add(&p.wg, workers);
    for (int i = 0; i < workers; i++)
        if (goro_go(cpool_worker, &p)) {
            failf("pool: goro_go failed");
            goro_waitgroup_done(&p.wg);
        }
    goro_chan_retain(p.jobs);
    if (goro_go(cpool_feeder, &p)) {
        failf("pool: goro_go failed");
        goro_chan_close(p.jobs);
        goro_chan_release(p.jobs);
    }
    goro_chan_retain(p.results);
    if (goro_go(cpool_closer, &p)) {
        failf("pool: goro_go failed");
        goro_chan_release(p.results);
        goro_waitgroup_wait(&p.wg);
        goro_chan_close(p.results);
    }
    uint64_t v, sum = 0, want = 0;
    int got = 0;
    while (goro_chan_recv(p.results, &v) == 0) {
        sum += v;
        got++;
    }
    for (uint64_t i = 1; i <= (uint64_t)p.n; i++)
        want += i * i + 1;
    if (got != p.n || sum != want)
        failf("pool: %d results summing to %" PRIu64 ", expected %d summing to %" PRIu64, got,
              sum, p.n, want);
    COUNT(c_chan_jobs, got);
    /* The closer may still be returning, but no longer touches p. */
    goro_chan_release(p.jobs);
    goro_chan_release(p.results);
}

static void pool_loop(void *arg)
{
    (void)arg;
    rng r;
    rinit(&r);
    while (!stopping()) {
        if (rbelow(&r, 2))
            group_batch(&r);
        else
            chan_batch(&r);
        pause_ns((int64_t)rbelow(&r, 2 * MS));
    }
    goro_waitgroup_done(&g_load);
}

/* ---- timers and tickers ------------------------------------------------- */

/* Receives from a timer or ticker channel, at most g_long. */
static bool recv_time(goro_chan *c, int64_t *v, const char *what)
{
    if (GORO_SELECT(goro_case_recv(c, v), goro_case_timeout(g_long)) != 0) {
        failf("%s: no value within the bound", what);
        return false;
    }
    return true;
}

static void expect_empty(goro_chan *c, const char *what)
{
    int64_t v;
    int rc = goro_chan_try_recv(c, &v);
    if (rc != EAGAIN)
        failf("%s: try_recv returned %d, expected EAGAIN (stale value)", what, rc);
}

static void timer_fire(rng *r)
{
    int64_t d = (int64_t)rbelow(r, 2 * MS), t0 = goro_now(), v;
    goro_timer *t = goro_timer_make(d);
    if (!t) {
        failf("timer: goro_timer_make: %s", strerror(soak_errno()));
        return;
    }
    if (recv_time(goro_timer_chan(t), &v, "timer fire") && v < t0 + d)
        failf("timer: fired %" PRId64 " ns early", t0 + d - v);
    if (goro_timer_stop(t))
        failf("timer: stop after the value was received returned true");
    goro_timer_free(t);
}

static void timer_stop(rng *r)
{
    int64_t d = 1 + (int64_t)rbelow(r, 5 * MS);
    goro_timer *t = goro_timer_make(d);
    if (!t) {
        failf("timer: goro_timer_make: %s", strerror(soak_errno()));
        return;
    }
    goro_sleep((int64_t)rbelow(r, 3 * MS));
    /* Fired or not, the value was never received: stop must win. */
    if (!goro_timer_stop(t))
        failf("timer: stop of an unreceived timer returned false");
    expect_empty(goro_timer_chan(t), "timer stop");
    if (rbelow(r, 4) == 0) {
        goro_sleep(d + MS);
        expect_empty(goro_timer_chan(t), "timer stop, later");
    }
    goro_timer_free(t);
}

static void timer_reset(rng *r)
{
    goro_timer *t = goro_timer_make(GORO_HOUR);
    if (!t) {
        failf("timer: goro_timer_make: %s", strerror(soak_errno()));
        return;
    }
    int n = 1 + (int)rbelow(r, 20);
    for (int i = 0; i < n; i++) {
        if (!goro_timer_reset(t, (int64_t)rbelow(r, 3 * MS)))
            failf("timer: reset of an unreceived timer returned false");
        if (rbelow(r, 3) == 0)
            goro_sleep((int64_t)rbelow(r, MS));
        else if (rbelow(r, 2) == 0)
            goro_yield();
    }
    int64_t d = (int64_t)rbelow(r, 2 * MS), t0 = goro_now(), v;
    goro_timer_reset(t, d);
    if (recv_time(goro_timer_chan(t), &v, "timer reset") && v < t0 + d)
        failf("timer: fired %" PRId64 " ns before its reset duration", t0 + d - v);
    if (goro_timer_reset(t, (int64_t)rbelow(r, MS)))
        failf("timer: reset after the value was received returned true");
    if (rbelow(r, 2))
        goro_sleep((int64_t)rbelow(r, 2 * MS));
    goro_timer_free(t); /* pending, fired or not */
}

static void timer_many(rng *r)
{
    goro_timer *ts[64];
    int n = 1 + (int)rbelow(r, 64);
    for (int i = 0; i < n; i++) {
        ts[i] = goro_timer_make((int64_t)rbelow(r, 5 * MS));
        if (!ts[i])
            failf("timer: goro_timer_make: %s", strerror(soak_errno()));
    }
    goro_sleep((int64_t)rbelow(r, 3 * MS));
    for (int i = 0; i < n; i++)
        goro_timer_free(ts[i]);
}

static void ticker_churn(rng *r)
{
    int64_t p = (1 + (int64_t)rbelow(r, 3)) * MS, t0 = goro_now(), last = 0, v;
    goro_ticker *tk = goro_ticker_make(p);
    if (!tk) {
        failf("ticker: goro_ticker_make: %s", strerror(soak_errno()));
        return;
    }
    goro_chan *c = goro_ticker_chan(tk);
    int n = 1 + (int)rbelow(r, 4);
    for (int i = 0; i < n && recv_time(c, &v, "ticker"); i++) {
        if (i == 0 && v < t0 + p)
            failf("ticker: first tick %" PRId64 " ns early", t0 + p - v);
        if (v < last)
            failf("ticker: tick times go backwards");
        last = v;
        COUNT(c_ticks, 1);
    }
    if (rbelow(r, 2)) {
        p = (1 + (int64_t)rbelow(r, 3)) * MS;
        if (!goro_ticker_reset(tk, p))
            failf("ticker: reset of a running ticker returned false");
        for (int i = 0; i < 2 && recv_time(c, &v, "ticker after reset"); i++) {
            if (v < last)
                failf("ticker: tick times go backwards after reset");
            last = v;
            COUNT(c_ticks, 1);
        }
    }
    if (!goro_ticker_stop(tk))
        failf("ticker: stop of a running ticker returned false");
    expect_empty(c, "ticker stop");
    if (rbelow(r, 3) == 0) {
        goro_sleep(2 * p);
        expect_empty(c, "ticker stop, later");
    }
    if (goro_ticker_stop(tk))
        failf("ticker: second stop returned true");
    goro_ticker_free(tk);
}

static void timer_loop(void *arg)
{
    (void)arg;
    rng r;
    rinit(&r);
    while (!stopping()) {
        switch (rbelow(&r, 5)) {
        case 0: timer_fire(&r); break;
        case 1: timer_stop(&r); break;
        case 2: timer_reset(&r); break;
        case 3: timer_many(&r); break;
        default: ticker_churn(&r); break;
        }
        COUNT(c_timer_ops, 1);
        pause_ns((int64_t)rbelow(&r, MS));
    }
    goro_waitgroup_done(&g_load);
}

/* ---- context trees ------------------------------------------------------- */

#define CTX_MAX 24

static const char ctx_key = 'k';

typedef struct watch {
    goro_ctx *ctx;              /* borrowed: the tree outlives its watchers */
    void *value;                /* what goro_ctx_value must find */
    goro_waitgroup *wg;
} watch;

static void ctx_watcher(void *arg)
{
    watch *w = arg;
    if (GORO_SELECT(goro_case_recv(goro_ctx_done(w->ctx), NULL),
                    goro_case_timeout(g_long)) != 0) {
        failf("ctx: done did not close within the bound");
    } else {
        int e = goro_ctx_err(w->ctx);
        if (e != ECANCELED && e != ETIMEDOUT)
            failf("ctx: done closed but err is %d", e);
    }
    if (goro_ctx_value(w->ctx, &ctx_key) != w->value)
        failf("ctx: goro_ctx_value found the wrong value");
    goro_waitgroup_done(w->wg);
}

static bool descends(const int *parent, int j, int i)
{
    for (; j >= 0; j = parent[j])
        if (j == i)
            return true;
    return false;
}

static void ctx_tree(rng *r)
{
    goro_ctx *node[CTX_MAX];
    int parent[CTX_MAX];
    void *value[CTX_MAX];
    bool cancelable[CTX_MAX];
    bool timed[CTX_MAX];        /* a timer on the node or above it may fire */
    watch w[CTX_MAX];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    int n = 2 + (int)rbelow(r, CTX_MAX - 1), made = 0;

    timed[0] = rbelow(r, 2);
    node[0] = timed[0] ? goro_ctx_with_timeout(NULL, (int64_t)rbelow(r, 40 * MS))
                       : goro_ctx_with_cancel(NULL);
    parent[0] = -1;
    value[0] = NULL;
    cancelable[0] = true;
    if (!node[0]) {
        failf("ctx: out of memory");
        return;
    }
    for (made = 1; made < n; made++) {
        int i = made, p = (int)rbelow(r, (uint64_t)i);
        parent[i] = p;
        value[i] = value[p];
        cancelable[i] = true;
        timed[i] = timed[p];
        switch (rbelow(r, 4)) {
        case 0: node[i] = goro_ctx_with_cancel(node[p]); break;
        case 1:
            timed[i] = true;
            node[i] = goro_ctx_with_timeout(node[p], (int64_t)rbelow(r, 20 * MS));
            break;
        case 2: {
            bool soon = rbelow(r, 2);
            timed[i] |= soon;
            node[i] = goro_ctx_with_deadline(
                node[p], goro_now() + (soon ? (int64_t)rbelow(r, 40 * MS) : GORO_HOUR));
            break;
        }
        default:
            value[i] = (void *)(uintptr_t)(i + 1);
            cancelable[i] = false; /* as in Go, a value context has no cancel */
            node[i] = goro_ctx_with_value(node[p], &ctx_key, value[i]);
            break;
        }
        if (!node[i]) {
            failf("ctx: out of memory");
            break;
        }
        int64_t pd, cd;
        if (goro_ctx_deadline(node[p], &pd) &&
            (!goro_ctx_deadline(node[i], &cd) || cd > pd))
            failf("ctx: a child's deadline is later than its parent's");
    }
    COUNT(c_ctx_nodes, made);
    for (int i = 0; i < made; i++) {
        if (rbelow(r, 2))
            continue;
        w[i] = (watch){.ctx = node[i], .value = value[i], .wg = &wg};
        goro_waitgroup_add(&wg, 1);
        int rc = goro_go(ctx_watcher, &w[i]);
        if (rc) {
            failf("ctx: goro_go: %s", strerror(rc));
            goro_waitgroup_done(&wg);
        } else {
            COUNT(c_ctx_watchers, 1);
        }
    }
    pause_ns((int64_t)rbelow(r, 10 * MS));
    int cancels = (int)rbelow(r, 4);
    for (int k = 0; k <= cancels; k++) {
        int i = k == cancels ? 0 : (int)rbelow(r, (uint64_t)made);
        if (!cancelable[i])
            continue;
        goro_ctx_cancel(node[i]);
        /* Once cancel returns, the whole subtree has ended, even while a
         * timer's cancel of part of it is under way. */
        for (int j = 0; j < made; j++)
            if (descends(parent, j, i) && goro_ctx_err(node[j]) == 0)
                failf("ctx: node %d is live after its ancestor %d was canceled", j, i);
        if (rbelow(r, 2))
            goro_yield();
    }
    goro_waitgroup_wait(&wg);
    /* Release in random order: a child keeps its parent alive. */
    for (int i = made - 1; i > 0; i--) {
        int j = (int)rbelow(r, (uint64_t)i + 1);
        goro_ctx *t = node[i];
        node[i] = node[j];
        node[j] = t;
    }
    for (int i = 0; i < made; i++)
        goro_ctx_release(node[i]);
    COUNT(c_ctx_trees, 1);
}

static void ctx_loop(void *arg)
{
    (void)arg;
    rng r;
    rinit(&r);
    while (!stopping()) {
        ctx_tree(&r);
        pause_ns((int64_t)rbelow(&r, 2 * MS));
    }
    goro_waitgroup_done(&g_load);
}

/* ---- select ---------------------------------------------------------------- */

typedef struct selround {
    goro_chan *ch[3];
    goro_waitgroup producers, consumers;
    int per_producer;
    atomic_uint_fast64_t sent_sum, sent_n, recv_sum, recv_n;
} selround;

static void sel_producer(void *arg)
{
    selround *s = arg;
    rng r;
    rinit(&r);
    for (int i = 0; i < s->per_producer; i++) {
        uint64_t v = rnext(&r) >> 16;
        for (;;) {
            int k = GORO_SELECT(goro_case_send(s->ch[0], &v), goro_case_send(s->ch[1], &v),
                                goro_case_send(s->ch[2], &v),
                                goro_case_timeout((int64_t)rbelow(&r, MS)));
            if (k == 3) {
                COUNT(c_sel_timeouts, 1);
                continue;
            }
            if (k < 0 || k > 3)
                failf("select: send select returned %d", k);
            break;
        }
        atomic_fetch_add(&s->sent_sum, v);
        atomic_fetch_add(&s->sent_n, 1);
    }
    goro_waitgroup_done(&s->producers);
}

static void sel_consumer(void *arg)
{
    selround *s = arg;
    rng r;
    rinit(&r);
    bool open[3] = {true, true, true};
    while (open[0] || open[1] || open[2]) {
        uint64_t v = 0;
        bool ok = false;
        int k;
        if (rbelow(&r, 8) == 0) {
            k = GORO_SELECT(goro_case_recv_ok(open[0] ? s->ch[0] : NULL, &v, &ok),
                            goro_case_recv_ok(open[1] ? s->ch[1] : NULL, &v, &ok),
                            goro_case_recv_ok(open[2] ? s->ch[2] : NULL, &v, &ok),
                            goro_case_default());
        } else {
            k = GORO_SELECT(goro_case_recv_ok(open[0] ? s->ch[0] : NULL, &v, &ok),
                            goro_case_recv_ok(open[1] ? s->ch[1] : NULL, &v, &ok),
                            goro_case_recv_ok(open[2] ? s->ch[2] : NULL, &v, &ok),
                            goro_case_timeout((int64_t)rbelow(&r, 2 * MS)));
        }
        if (k == 3) {
            continue;
        } else if (k < 0 || k > 3) {
            failf("select: receive select returned %d", k);
            break;
        } else if (!open[k]) {
            failf("select: a nil-channel case was chosen");
        } else if (!ok) {
            open[k] = false;
        } else {
            atomic_fetch_add(&s->recv_sum, v);
            atomic_fetch_add(&s->recv_n, 1);
        }
    }
    goro_waitgroup_done(&s->consumers);
}

static void select_loop(void *arg)
{
    (void)arg;
    rng r;
    rinit(&r);
    static const size_t caps[] = {0, 1, 8};
    while (!stopping()) {
        selround s = {.producers = GORO_WAITGROUP_INIT, .consumers = GORO_WAITGROUP_INIT,
                      .per_producer = 1 + (int)rbelow(&r, 500)};
        bool ok = true;
        for (int i = 0; i < 3; i++)
            ok &= (s.ch[i] = goro_chan_make(sizeof(uint64_t), caps[i])) != NULL;
        if (!ok) {
            failf("select: goro_chan_make: out of memory");
            for (int i = 0; i < 3; i++)
                goro_chan_release(s.ch[i]);
            break;
        }
        goro_waitgroup_add(&s.producers, SELECT_PRODUCERS);
        goro_waitgroup_add(&s.consumers, SELECT_CONSUMERS);
        for (int i = 0; i < SELECT_PRODUCERS; i++)
            if (goro_go(sel_producer, &s)) {
                failf("select: goro_go failed");
                goro_waitgroup_done(&s.producers);
            }
        for (int i = 0; i < SELECT_CONSUMERS; i++)
            if (goro_go(sel_consumer, &s)) {
                failf("select: goro_go failed");
                goro_waitgroup_done(&s.consumers);
            }
        goro_waitgroup_wait(&s.producers);
        for (int i = 0; i < 3; i++)
            goro_chan_close(s.ch[i]);
        goro_waitgroup_wait(&s.consumers);
        if (atomic_load(&s.sent_n) != atomic_load(&s.recv_n) ||
            atomic_load(&s.sent_sum) != atomic_load(&s.recv_sum))
            failf("select: sent %llu values (sum %llu), received %llu (sum %llu)",
                  LOAD(s.sent_n), LOAD(s.sent_sum), LOAD(s.recv_n), LOAD(s.recv_sum));
        COUNT(c_sel_values, atomic_load(&s.recv_n));
        COUNT(c_sel_rounds, 1);
        for (int i = 0; i < 3; i++)
            goro_chan_release(s.ch[i]);
        pause_ns((int64_t)rbelow(&r, 2 * MS));
    }
    goro_waitgroup_done(&g_load);
}

/* ---- spawn churn ------------------------------------------------------------ */

typedef struct churn {
    goro_waitgroup wg;
    goro_mutex mu;
    long counter;               /* under mu */
} churn;

typedef struct churn_arg {
    churn *c;
    int kind;
} churn_arg;

static void churn_child(void *arg)
{
    churn_arg *a = arg;
    switch (a->kind) {
    case 1: goro_yield(); break;
    case 2:
        goro_mutex_lock(&a->c->mu);
        a->c->counter++;
        goro_mutex_unlock(&a->c->mu);
        break;
    case 3: goro_sleep(10 * US); break;
    default: break;
    }
    COUNT(c_exited, 1);
    goro_waitgroup_done(&a->c->wg);
}

static void churn_loop(void *arg)
{
    (void)arg;
    rng r;
    rinit(&r);
    static churn_arg args[300];
    churn c = {.wg = GORO_WAITGROUP_INIT, .mu = GORO_MUTEX_INIT};
    goro_attr attr = {.stack_size = 64 * 1024, .name = "churn"};
    while (!stopping()) {
        int n = 1 + (int)rbelow(&r, 300);
        long want = c.counter;
        for (int i = 0; i < n; i++) {
            args[i] = (churn_arg){.c = &c, .kind = (int)rbelow(&r, 4)};
            goro_waitgroup_add(&c.wg, 1);
            int rc = i % 8 == 0 ? goro_go_attr(&attr, churn_child, &args[i])
                                : goro_go(churn_child, &args[i]);
            if (rc) {
                failf("churn: goro_go: %s", strerror(rc));
                goro_waitgroup_done(&c.wg);
                continue;
            }
            COUNT(c_spawned, 1);
            if (args[i].kind == 2)
                want++;
        }
        goro_waitgroup_wait(&c.wg);
        goro_mutex_lock(&c.mu);
        if (c.counter != want)
            failf("churn: counter %ld, expected %ld", c.counter, want);
        goro_mutex_unlock(&c.mu);
        pause_ns((int64_t)rbelow(&r, 3 * MS));
    }
    goro_waitgroup_done(&g_load);
}

/* ---- the run ------------------------------------------------------------------- */

static int g_exit;

static bool start_load(void (*fn)(void *), const char *name)
{
    goro_waitgroup_add(&g_load, 1);
    int rc = goro_go_at(NULL, fn, NULL, name, __FILE__, __LINE__, __func__);
    if (rc) {
        failf("goro_go(%s): %s", name, strerror(rc));
        goro_waitgroup_done(&g_load);
        return false;
    }
    return true;
}

static bool listen_local(void)
{
    g_lfd = goro_listen_tcp("127.0.0.1:0");
    if (g_lfd < 0) {
        int e = io_err(g_lfd);
        fprintf(stderr, "soak: goro_listen_tcp: %s\n", strerror(e));
        return false;
    }
    socklen_t len = sizeof g_sin;
    if (getsockname(g_lfd, (struct sockaddr *)&g_sin, &len) != 0 || g_sin.sin_family != AF_INET) {
        fprintf(stderr, "soak: getsockname: %s\n", strerror(soak_errno()));
        return false;
    }
    snprintf(g_addr, sizeof g_addr, "127.0.0.1:%d", ntohs(g_sin.sin_port));
    return true;
}

/* Waits until pred() holds, at most g_long. */
static bool wait_until(bool (*pred)(void))
{
    int64_t end = goro_now() + g_long;
    while (!pred()) {
        if (goro_now() > end)
            return false;
        goro_sleep(5 * MS);
    }
    return true;
}

static int g_baseline;

static bool all_accepted(void)
{
    return atomic_load(&c_accepts) >= atomic_load(&c_dials);
}

static bool at_baseline(void)
{
    return goro_num_goroutine() <= g_baseline;
}

static void body(void *arg)
{
    (void)arg;
    g_baseline = goro_num_goroutine();
    g_stop = goro_ctx_with_cancel(NULL);
    g_srv_ctx = goro_ctx_with_cancel(NULL);
    goro_chan *accept_done = goro_chan_make(0, 0);
    if (!g_stop || !g_srv_ctx || !accept_done || !listen_local()) {
        fprintf(stderr, "soak: setup failed\n");
        g_exit = 1;
        return;
    }
    /* The poller's own fds exist once an fd has waited on it. */
    goro_fd_wait(g_lfd, GORO_READ, goro_now() + MS);
    int fds_start = open_fds();
    long heap_start = heap_bytes();
    goro_stats st0;
    goro_stats_get(&st0);

    if (goro_go(accept_loop, goro_chan_retain(accept_done))) {
        fprintf(stderr, "soak: goro_go(accept_loop) failed\n");
        g_exit = 1;
        return;
    }
    for (int i = 0; i < SHORT_CLIENTS; i++)
        start_load(short_client, "short_client");
    for (int i = 0; i < LONG_CLIENTS; i++)
        start_load(long_client, "long_client");
    start_load(prober, "prober");
    start_load(pool_loop, "pool_loop");
    start_load(pool_loop, "pool_loop");
    for (int i = 0; i < TIMER_WORKERS; i++)
        start_load(timer_loop, "timer_loop");
    for (int i = 0; i < CTX_WORKERS; i++)
        start_load(ctx_loop, "ctx_loop");
    start_load(select_loop, "select_loop");
    start_load(churn_loop, "churn_loop");

    /* The load runs; sample RSS and the goroutine count once a second. */
    int64_t t0 = goro_now(), end = t0 + g_duration, next = t0;
    long rss_warm = -1, rss_end = 0, rss_max = 0, heap_warm = -1;
    int g_max = 0;
    goro_stats stw = {0};
    bool progress = g_duration >= 20 * GORO_SECOND;
    int64_t next_progress = t0 + 10 * GORO_SECOND;
    for (;;) {
        int64_t now = goro_now();
        if (now >= end)
            break;
        next += GORO_SECOND;
        goro_sleep((next < end ? next : end) - now);
        long rss = rss_bytes();
        int g = goro_num_goroutine();
        rss_end = rss;
        if (g > g_max)
            g_max = g;
        if (rss_warm < 0 && goro_now() - t0 >= g_warm) {
            rss_warm = rss;
            heap_warm = heap_bytes();
            goro_stats_get(&stw);
        }
        if (rss_warm >= 0 && rss > rss_max)
            rss_max = rss;
        if (progress && goro_now() >= next_progress) {
            next_progress += 10 * GORO_SECOND;
            fprintf(stderr,
                    "soak: %3.0f s: %llu conns, %llu bytes echoed, %d goroutines, rss %.1f MiB, "
                    "%d failures\n",
                    (double)(goro_now() - t0) / GORO_SECOND, LOAD(c_short) + LOAD(c_long),
                    LOAD(c_recv), g, rss / MIB, atomic_load(&g_failures));
        }
    }
    if (rss_warm < 0) {
        rss_warm = rss_end;
        heap_warm = heap_bytes();
        goro_stats_get(&stw);
    }

    /* Stop the load, then the server once every connection is accepted. */
    goro_ctx_cancel(g_stop);
    goro_waitgroup_wait(&g_load);
    if (!wait_until(all_accepted))
        failf("end: %llu connections made, %llu accepted", LOAD(c_dials), LOAD(c_accepts));
    goro_ctx_cancel(g_srv_ctx);
    goro_chan_recv(accept_done, NULL);
    goro_chan_release(accept_done);
    goro_waitgroup_wait(&g_srv);
    goro_close(g_lfd);
    double secs = (double)(goro_now() - t0) / GORO_SECOND;

    /* Invariants. */
    if (LOAD(c_sent) != LOAD(c_recv))
        failf("end: %llu bytes sent, %llu echoed", LOAD(c_sent), LOAD(c_recv));
    if (LOAD(c_bad))
        failf("end: %llu echoed bytes did not match", LOAD(c_bad));
    if (LOAD(c_accepts) != LOAD(c_dials))
        failf("end: %llu connections made, %llu accepted", LOAD(c_dials), LOAD(c_accepts));
    if (LOAD(c_srv_errors) > LOAD(c_probe_write))
        failf("end: %llu server connection errors, at most %llu expected",
              LOAD(c_srv_errors), LOAD(c_probe_write));
    if (LOAD(c_spawned) != LOAD(c_exited))
        failf("end: %llu goroutines spawned, %llu ran to the end", LOAD(c_spawned),
              LOAD(c_exited));
    if (!LOAD(c_short) || !LOAD(c_long) || !LOAD(c_pool_tasks) || !LOAD(c_chan_jobs) ||
        !LOAD(c_timer_ops) || !LOAD(c_ctx_trees) || !LOAD(c_sel_values) || !LOAD(c_spawned))
        failf("end: some part of the load never ran");
    if (!wait_until(at_baseline))
        failf("end: %d goroutines left, baseline %d", goro_num_goroutine(), g_baseline);
    int g_end = goro_num_goroutine();
    int fds_end = open_fds();
    if (fds_end != fds_start - 1) /* the listener is closed */
        failf("end: %d fds open, %d expected", fds_end, fds_start - 1);

    goro_stats st;
    goro_stats_get(&st);
    int procs = goro_maxprocs(0);
    if (st.goroutines != g_end || st.procs != procs || st.idle_procs < 0 ||
        st.idle_procs > st.procs || st.threads < 1 || st.stacks_cached > st.stacks ||
        (uint64_t)st.goroutines > st.stacks + 1 || st.parks <= stw.parks ||
        stw.parks < st0.parks || st.steals < stw.steals)
        failf("end: goro_stats inconsistent: goroutines %d (%d), procs %d (%d), idle %d, "
              "threads %d, stacks %llu cached %llu, parks %llu (at warm-up %llu)",
              st.goroutines, g_end, st.procs, procs, st.idle_procs, st.threads,
              (unsigned long long)st.stacks, (unsigned long long)st.stacks_cached,
              (unsigned long long)st.parks, (unsigned long long)stw.parks);
    /* Stacks are recycled and threads are reused: after the warm-up
     * neither grows with the work done. */
    if (st.stacks > 2 * stw.stacks + 64 * (uint64_t)procs + 256)
        failf("end: %llu stacks mapped, %llu at warm-up", (unsigned long long)st.stacks,
              (unsigned long long)stw.stacks);
    if (st.threads > 2 * stw.threads + procs + 8)
        failf("end: %d threads, %d at warm-up", st.threads, stw.threads);

    long slack = (long)(g_rss_slack_mb * MIB);
    if (rss_warm / 4 > slack)
        slack = rss_warm / 4;
    if (rss_end > rss_warm + slack)
        failf("end: RSS %.1f MiB, %.1f MiB after the warm-up (bound +%.1f MiB)", rss_end / MIB,
              rss_warm / MIB, slack / MIB);

    /* The load's objects are all freed now, so the heap is back where it
     * was before the load, but for bounded caches (goro's, and malloc's
     * per-thread ones): a leak of a hundred bytes per context, channel,
     * timer or connection shows here long before it shows in RSS. */
    long heap_end = heap_bytes();
    double heap_slack = g_heap_slack_mb * MIB;
    if (heap_slack < st.threads * 256.0 * 1024)
        heap_slack = st.threads * 256.0 * 1024;
    if (heap_start >= 0 && heap_end > heap_start + (long)heap_slack)
        failf("end: %.2f MiB of heap in use after the load, %.2f MiB before it (bound +%.1f MiB)",
              heap_end / MIB, heap_start / MIB, heap_slack / MIB);

    goro_ctx_release(g_srv_ctx);
    goro_ctx_release(g_stop);

    int failures = atomic_load(&g_failures);
    char heap[96] = "heap n/a";
    if (heap_start >= 0)
        snprintf(heap, sizeof heap, "heap start=%.2f warm=%.2f end=%.2f MiB", heap_start / MIB,
                 heap_warm / MIB, heap_end / MIB);
    printf("soak: %s %.1f s seed=%llu: conns short=%llu long=%llu probes=%llu/%llu/%llu/%llu "
           "accepted=%llu; bytes sent=%llu echoed=%llu bad=%llu; pool tasks=%llu batches=%llu "
           "chan jobs=%llu; timer ops=%llu ticks=%llu; ctx trees=%llu nodes=%llu; select "
           "values=%llu rounds=%llu; spawned=%llu; goroutines %d/%d (peak %d); threads=%d "
           "stacks=%llu/%llu; rss warm=%.1f end=%.1f max=%.1f MiB (bound +%.1f); %s; "
           "failures=%d\n",
           failures ? "FAIL" : "PASS", secs, (unsigned long long)g_seed, LOAD(c_short),
           LOAD(c_long), LOAD(c_probe_read), LOAD(c_probe_ctx), LOAD(c_probe_cancel),
           LOAD(c_probe_write), LOAD(c_accepts), LOAD(c_sent), LOAD(c_recv), LOAD(c_bad),
           LOAD(c_pool_tasks), LOAD(c_pool_batches), LOAD(c_chan_jobs), LOAD(c_timer_ops),
           LOAD(c_ticks), LOAD(c_ctx_trees), LOAD(c_ctx_nodes),
           LOAD(c_sel_values),
           LOAD(c_sel_rounds), LOAD(c_spawned), g_end, g_baseline, g_max, st.threads,
           (unsigned long long)st.stacks, (unsigned long long)st.stacks_cached, rss_warm / MIB,
           rss_end / MIB, rss_max / MIB, slack / MIB, heap, failures);
    fflush(stdout);
    atomic_store(&g_shutdown_done, 1);
    g_exit = failures ? 1 : 0;
}

/* Prints the goroutines and exits if the run does not end in time. */
static void *watchdog(void *arg)
{
    (void)arg;
    int64_t limit = g_duration + 120 * GORO_SECOND * g_scale;
    struct timespec ts = {.tv_sec = (time_t)(limit / GORO_SECOND),
                          .tv_nsec = (long)(limit % GORO_SECOND)};
    while (nanosleep(&ts, &ts) != 0)
        ;
    if (atomic_load(&g_shutdown_done))
        return NULL;
    fprintf(stderr, "soak: FAIL: the run did not finish %lld s after the load ended\n",
            (long long)(limit - g_duration) / GORO_SECOND);
    goro_dump(stderr);
    fflush(stderr);
    _exit(2);
}

static double env_num(const char *name, double dflt)
{
    const char *s = getenv(name);
    char *end;
    if (!s || !*s)
        return dflt;
    double v = strtod(s, &end);
    return *end ? dflt : v;
}

int main(int argc, char **argv)
{
    double secs = env_num("GORO_SOAK_SECONDS", 5);
    if (argc > 2) {
        fprintf(stderr, "usage: %s [SECONDS]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        char *end;
        secs = strtod(argv[1], &end);
        if (*end || secs <= 0) {
            fprintf(stderr, "usage: %s [SECONDS]\n", argv[0]);
            return 2;
        }
    }
    g_duration = (int64_t)(secs * GORO_SECOND);
    g_warm = g_duration / 3 < 10 * GORO_SECOND ? g_duration / 3 : 10 * GORO_SECOND;
    g_scale = (int64_t)env_num("GORO_TEST_TIMEOUT_SCALE", 1);
    if (g_scale < 1)
        g_scale = 1;
    g_long = 30 * GORO_SECOND * g_scale;
    g_rss_slack_mb = env_num("GORO_SOAK_RSS_SLACK_MB", SOAK_RSS_SLACK_MB);
    g_heap_slack_mb = env_num("GORO_SOAK_HEAP_SLACK_MB", 2);
    const char *seed = getenv("GORO_SOAK_SEED");
    g_seed = seed ? strtoull(seed, NULL, 0) : 0;
    if (!g_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t t = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
        g_seed = splitmix(t ^ (uint64_t)getpid()) >> 12;
    }
    fprintf(stderr, "soak: %.1f s, seed %llu, %d procs\n", secs, (unsigned long long)g_seed,
            goro_maxprocs(0));

    pthread_t wd;
    if (pthread_create(&wd, NULL, watchdog, NULL) == 0)
        pthread_detach(wd);
    int rc = goro_main(body, NULL);
    if (rc) {
        fprintf(stderr, "soak: goro_main: %s\n", strerror(rc));
        return 1;
    }
    return g_exit;
}
