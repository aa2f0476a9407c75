/* test_libs_curl.c - libcurl's easy (blocking) API from many goroutines on
 * two threads, against a real HTTP server (nginx; libs_common.h: the
 * fixture, and how each call runs).
 *
 *   get_bodies       100 goroutines, each with its own easy handle, GET
 *                    f0.txt ... f99.txt and then 64k.bin: every body and
 *                    status checked; goro's threads bounded.
 *   reuse_handle     one handle does 200 GETs over one kept-alive
 *                    connection (curl's connection cache), bodies checked.
 *   ctx_aborts_stalled  a server that accepts and never answers; a
 *                    context deadline ends curl_easy_perform through its
 *                    progress callback (CURLE_ABORTED_BY_CALLBACK), and no
 *                    descriptor or goroutine is left.
 */
#define _GNU_SOURCE
#include "libs_common.h"

#include <curl/curl.h>

static void init(void)
{
    setenv("GORO_MAXPROCS", "2", 1);
    /* Before any thread starts: curl_global_init is not thread-safe. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    curl_global_cleanup();
}

TestSuite(libs_curl, .init = init, .fini = fini, .timeout = GT_TIMEOUT(60));

/* ---- a body in memory ------------------------------------------------------ */

struct body {
    char *data;
    size_t len, cap;
};

static size_t body_write(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t len = size * n;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return len;
}

/* ---- calls through gl_call ---------------------------------------------- */

struct perform {
    CURL *h;
    CURLcode rc;
};

static void do_perform(void *arg)
{
    struct perform *p = arg;
    p->rc = curl_easy_perform(p->h);
}

static CURLcode perform(CURL *h)
{
    struct perform p = {h, CURLE_OK};
    gl_call(do_perform, &p);
    return p.rc;
}

/* GETs url with h into b (emptied first); returns curl's code, the
 * status in *status. */
static CURLcode get(CURL *h, const char *url, struct body *b, long *status)
{
    b->len = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    return rc;
}

static const char *base_url(void)
{
    return gl_need("HTTP_URL", "HTTP server");
}

static bool check_64k(const struct body *b)
{
    if (!gt_check(b->len == 65536, "64k.bin: %zu bytes", b->len))
        return false;
    for (size_t i = 0; i < b->len; i++)
        if (!gt_check((unsigned char)b->data[i] == i % 251, "64k.bin: byte %zu is %d", i,
                      (unsigned char)b->data[i]))
            return false;
    return true;
}

/* ---- get_bodies -------------------------------------------------------------- */

#define GB_GOROUTINES 100

struct gb {
    const char *base;
    int id;
    goro_waitgroup *wg;
    _Atomic long *ok;
    _Atomic int *max_threads;
};

static void get_worker(void *arg)
{
    struct gb *w = arg;
    CURL *h = curl_easy_init();
    struct body b = {0};
    char url[256], want[32];
    long status;

    if (!gt_check(h != NULL, "curl_easy_init"))
        goto out;
    snprintf(url, sizeof url, "%sf%d.txt", w->base, w->id);
    snprintf(want, sizeof want, "file %d\n", w->id);
    CURLcode rc = get(h, url, &b, &status);
    if (gt_check(rc == CURLE_OK && status == 200, "GET %s: %s, status %ld", url,
                 curl_easy_strerror(rc), status) &&
        gt_check(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, "GET %s: body %.*s",
                 url, (int)b.len, b.data))
        atomic_fetch_add(w->ok, 1);
    gl_note_threads(w->max_threads);
    snprintf(url, sizeof url, "%s64k.bin", w->base);
    rc = get(h, url, &b, &status);
    if (gt_check(rc == CURLE_OK && status == 200, "GET %s: %s, status %ld", url,
                 curl_easy_strerror(rc), status) &&
        check_64k(&b))
        atomic_fetch_add(w->ok, 1);
    snprintf(url, sizeof url, "%smissing.txt", w->base);
    rc = get(h, url, &b, &status);
    gt_check(rc == CURLE_OK && status == 404, "GET %s: %s, status %ld", url,
             curl_easy_strerror(rc), status);
    gl_note_threads(w->max_threads);
out:
    free(b.data);
    curl_easy_cleanup(h);
    goro_waitgroup_done(w->wg);
}

Test(libs_curl, get_bodies)
{
    const char *base = base_url();
    static struct gb ws[GB_GOROUTINES];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    _Atomic long ok = 0;
    _Atomic int max_threads = 0;

    goro_waitgroup_add(&wg, GB_GOROUTINES);
    for (int i = 0; i < GB_GOROUTINES; i++) {
        ws[i] = (struct gb){base, i, &wg, &ok, &max_threads};
        gt_spawn(get_worker, &ws[i]);
    }
    goro_waitgroup_wait(&wg);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&ok), 2 * GB_GOROUTINES);
    int procs = goro_maxprocs(0);
    cr_assert_eq(procs, 2);
    cr_assert_leq(atomic_load(&max_threads), gl_thread_bound(procs),
                  "%d threads for %d procs", atomic_load(&max_threads), procs);
    gt_quiesce();
}

/* ---- reuse_handle ---------------------------------------------------------------- */

struct reuse {
    const char *base;
    long ok;
    long connects;
    goro_chan *done;
};

static void reuse_worker(void *arg)
{
    struct reuse *r = arg;
    CURL *h = curl_easy_init();
    struct body b = {0};
    char url[256], want[32];
    long status;

    for (int i = 0; h && i < 200; i++) {
        snprintf(url, sizeof url, "%sf%d.txt", r->base, i % 100);
        snprintf(want, sizeof want, "file %d\n", i % 100);
        CURLcode rc = get(h, url, &b, &status);
        if (!gt_check(rc == CURLE_OK && status == 200 && b.len == strlen(want) &&
                          memcmp(b.data, want, b.len) == 0,
                      "GET %s: %s, status %ld, body %.*s", url, curl_easy_strerror(rc), status,
                      (int)b.len, b.data ? b.data : ""))
            break;
        r->ok++;
    }
    if (h)
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->connects); /* of the last transfer */
    free(b.data);
    curl_easy_cleanup(h);
    goro_chan_close(r->done);
}

Test(libs_curl, reuse_handle)
{
    struct reuse r = {.base = base_url()};

    r.done = gt_mkchan(0, 0);
    gt_spawn(reuse_worker, &r);
    cr_assert_eq(goro_chan_recv(r.done, NULL), EPIPE);
    goro_chan_release(r.done);
    gt_assert_no_failures();
    cr_assert_eq(r.ok, 200);
    cr_assert_eq(r.connects, 0, "the last transfer opened %ld connection(s), want the kept one",
                 r.connects);
    gt_quiesce();
}

/* ---- ctx_aborts_stalled ------------------------------------------------------------ */

/* Accepts connections on fd and holds them, unanswered, until ctx ends. */
struct staller {
    int fd;
    goro_ctx *ctx;
    goro_chan *done;
};

static void stall(void *arg)
{
    struct staller *s = arg;
    int conns[8], n = 0;
    for (;;) {
        int c = goro_accept_ctx(s->ctx, s->fd, NULL, NULL);
        if (c < 0)
            break;
        if (n < 8)
            conns[n++] = c;
        else
            goro_close(c);
    }
    while (n > 0)
        goro_close(conns[--n]);
    goro_chan_close(s->done);
}

static int abort_on_done(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return goro_ctx_err(arg) != 0; /* nonzero aborts the transfer */
}

struct stalled {
    char url[128];
    CURLcode rc;
    int64_t took;
    goro_chan *done;
};

static void stalled_get(void *arg)
{
    struct stalled *s = arg;
    CURL *h = curl_easy_init();
    goro_ctx *ctx = goro_ctx_with_timeout(NULL, gt_ms(200));
    struct body b = {0};
    long status;

    if (gt_check(h && ctx, "curl_easy_init or context")) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abort_on_done);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, ctx);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L); /* far beyond the bound below */
        int64_t t0 = goro_now();
        s->rc = get(h, s->url, &b, &status);
        s->took = goro_now() - t0;
    }
    free(b.data);
    curl_easy_cleanup(h);
    goro_ctx_release(ctx);
    goro_chan_close(s->done);
}

Test(libs_curl, ctx_aborts_stalled)
{
    struct staller st = {0};
    struct stalled s = {0};
    char addr[64];
    gl_prime_poller();
    int fds = gl_fd_count();

    st.fd = goro_listen("tcp", "127.0.0.1:0");
    cr_assert_geq(st.fd, 0, "goro_listen: %d", st.fd);
    cr_assert_gt(goro_sockname(st.fd, addr, sizeof addr), 0);
    st.ctx = goro_ctx_with_cancel(NULL);
    st.done = gt_mkchan(0, 0);
    gt_spawn(stall, &st);

    snprintf(s.url, sizeof s.url, "http://%s/never", addr);
    s.done = gt_mkchan(0, 0);
    gt_spawn(stalled_get, &s);
    cr_assert_eq(goro_chan_recv(s.done, NULL), EPIPE);
    goro_chan_release(s.done);

    goro_ctx_cancel(st.ctx);
    cr_assert_eq(goro_chan_recv(st.done, NULL), EPIPE);
    goro_chan_release(st.done);
    goro_ctx_release(st.ctx);
    goro_close(st.fd);

    gt_assert_no_failures();
    cr_assert_eq(s.rc, CURLE_ABORTED_BY_CALLBACK, "curl: %s", curl_easy_strerror(s.rc));
    cr_assert_geq(s.took, 190 * GORO_MILLISECOND, "ended after %lld ns, before the deadline",
                  (long long)s.took);
    /* curl calls the progress callback at least once a second while idle. */
    cr_assert_lt(s.took, gt_ms(3000), "ended after %lld ns", (long long)s.took);
    cr_assert_eq(gl_fd_count(), fds, "descriptors before %d, after %d", fds, gl_fd_count());
    gt_quiesce();
}
