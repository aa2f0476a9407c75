/* B13 http client: N goroutines, each with a libcurl easy handle of its
 * own (one kept-alive connection each), make blocking GETs
 * (curl_easy_perform) of a small static file on a local nginx until TOTAL
 * requests are done; every status and body is checked.
 *
 *   httpget N [TOTAL]         (default 500 clients, 100000 requests)
 *
 * The URL comes from GORO_BENCH_URL (bench/run starts nginx with
 * scripts/servers.sh and points it at hello.txt, "hello, goro\n").
 * Metric: requests per second (throughput: higher is better).
 * Go twin: bench/go/httpget (net/http, the same N and TOTAL). */
#define _GNU_SOURCE
#include "bench.h"

#include <curl/curl.h>
#include <stdatomic.h>

static const char *url;
static long per_client;
static goro_waitgroup finished = GORO_WAITGROUP_INIT;
static goro_chan *start;

struct body {
    char data[64];
    size_t len;
};

static size_t body_write(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t len = size * n;
    if (b->len + len > sizeof b->data)
        return 0;
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return len;
}

static void client(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    struct body b;
    long status = 0;

    BENCH_CHECK(h != NULL, "curl_easy_init");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    goro_chan_recv(start, NULL);
    for (long i = 0; i < per_client; i++) {
        b.len = 0;
        CURLcode rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        BENCH_CHECK(rc == CURLE_OK && status == 200, "GET %s: %s, status %ld", url,
                    curl_easy_strerror(rc), status);
        BENCH_CHECK(b.len == 12 && memcmp(b.data, "hello, goro\n", 12) == 0, "GET %s: wrong body",
                    url);
    }
    curl_easy_cleanup(h);
    goro_waitgroup_done(&finished);
}

int main(int argc, char **argv)
{
    int nclients = argc > 1 ? atoi(argv[1]) : 500;
    long total = argc > 2 ? atol(argv[2]) : 100000;

    url = getenv("GORO_BENCH_URL");
    BENCH_CHECK(url && *url, "set GORO_BENCH_URL (bench/run does)");
    BENCH_CHECK(nclients > 0 && total >= nclients, "usage: httpget N [TOTAL]");
    BENCH_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0, "curl_global_init");
    per_client = total / nclients;
    start = bench_chan(0, 0);

    goro_waitgroup_add(&finished, nclients);
    for (int i = 0; i < nclients; i++)
        BENCH_OK(goro_go(client, NULL));
    int64_t t0 = goro_now();
    goro_chan_close(start);
    goro_waitgroup_wait(&finished);
    double secs = (double)(goro_now() - t0) / GORO_SECOND;
    goro_stats st;
    goro_stats_get(&st);
    long done = per_client * nclients;
    printf("httpget_%d: %ld requests in %.3f s; %d threads for %d procs\n", nclients, done, secs,
           st.threads, st.procs);
    char name[32];
    snprintf(name, sizeof name, "httpget_%d", nclients);
    bench_report(name, "req_per_s", (double)done / secs, "req/s");
    goro_chan_release(start);
    curl_global_cleanup();
    return 0;
}
