/* downloader.c - a parallel downloader, written with libcurl's easy
 * (blocking) API.
 *
 *   downloader [-j N] [-t SECONDS] DIR URL...     (default: 8 at once, 30 s)
 *
 * Saves each URL into DIR under the last part of its path.  N goroutines
 * take URLs from a channel; each has one easy handle of its own, which it
 * reuses for every download (curl keeps the connection alive between
 * them).  Each transfer is bounded by a context with the whole run's
 * deadline: curl's progress callback asks goro_ctx_err and a non-zero
 * answer aborts the transfer.  One line per URL, in the order given, then
 * a summary; the exit status is 0 when every URL gave a 2xx status.
 *
 * The goroutines call curl_easy_perform directly: a blocking call inside a
 * C library parks the goroutine that made it rather than its thread
 * (docs/guide.md, "Using existing C libraries").
 * Go: a worker pool over a channel, http.Client with a context.
 */
#define _GNU_SOURCE
#include <goro.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct download {
    const char *url;
    char path[4096];
    long status;
    curl_off_t bytes;
    CURLcode rc;
    int64_t ns;
};

GORO_CHAN_TYPE(download_chan, struct download *);

struct fetcher {
    download_chan *todo;
    goro_ctx *ctx;
    goro_waitgroup *wg;
};

/* Nonzero aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return goro_ctx_err(ctx) != 0;
}

static void fetch_one(CURL *h, goro_ctx *ctx, struct download *d)
{
    FILE *f = fopen(d->path, "wb");
    int64_t t0 = goro_now();

    if (!f) {
        d->rc = CURLE_WRITE_ERROR;
        return;
    }
    curl_easy_setopt(h, CURLOPT_URL, d->url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f); /* curl's default writer: fwrite */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, ctx);
    d->rc = curl_easy_perform(h);
    d->ns = goro_now() - t0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &d->status);
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &d->bytes);
    if (fclose(f) != 0 && d->rc == CURLE_OK)
        d->rc = CURLE_WRITE_ERROR;
    if (d->rc != CURLE_OK || d->status / 100 != 2)
        unlink(d->path); /* no partial or error-page files */
}

static void fetcher(void *arg)
{
    struct fetcher *fr = arg;
    CURL *h = curl_easy_init();
    struct download *d;

    while (download_chan_recv(fr->todo, &d) == 0) {
        if (h)
            fetch_one(h, fr->ctx, d);
        else
            d->rc = CURLE_OUT_OF_MEMORY;
    }
    curl_easy_cleanup(h);
    goro_waitgroup_done(fr->wg);
}

int main(int argc, char **argv)
{
    int jobs = 8, seconds = 30, opt;

    while ((opt = getopt(argc, argv, "j:t:")) != -1) {
        if (opt == 'j')
            jobs = atoi(optarg);
        else if (opt == 't')
            seconds = atoi(optarg);
        else
            jobs = 0;
    }
    if (jobs < 1 || seconds < 1 || argc - optind < 2) {
        fprintf(stderr, "usage: downloader [-j N] [-t SECONDS] DIR URL...\n");
        return 2;
    }
    const char *dir = argv[optind];
    int n = argc - optind - 1;

    /* Before any other thread: curl_global_init is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "downloader: curl_global_init failed\n");
        return 1;
    }
    struct download *ds = calloc((size_t)n, sizeof *ds);
    struct fetcher *fs = calloc((size_t)jobs, sizeof *fs);
    download_chan *todo = goro_make(download_chan, (size_t)n);
    goro_ctx *ctx = goro_ctx_with_timeout(NULL, (int64_t)seconds * GORO_SECOND);
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    if (!ds || !fs || !todo || !ctx) {
        perror("downloader");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const char *url = argv[optind + 1 + i];
        const char *slash = strrchr(url, '/');
        const char *name = slash && slash[1] ? slash + 1 : "index.html";
        ds[i].url = url;
        snprintf(ds[i].path, sizeof ds[i].path, "%s/%s", dir, name);
        download_chan_send(todo, &ds[i]);
    }
    download_chan_close(todo);

    int64_t t0 = goro_now();
    goro_waitgroup_add(&wg, jobs);
    for (int i = 0; i < jobs; i++) {
        fs[i] = (struct fetcher){todo, ctx, &wg};
        if (goro_go(fetcher, &fs[i]) != 0) {
            fprintf(stderr, "downloader: goro_go failed\n");
            return 1;
        }
    }
    goro_waitgroup_wait(&wg);
    int64_t took = goro_now() - t0;

    int failed = 0;
    long long total = 0;
    for (int i = 0; i < n; i++) {
        struct download *d = &ds[i];
        if (d->rc == CURLE_OK && d->status / 100 == 2) {
            total += d->bytes;
            printf("%s: %lld bytes, status %ld, %lld ms -> %s\n", d->url, (long long)d->bytes,
                   d->status, (long long)(d->ns / GORO_MILLISECOND), d->path);
        } else {
            failed++;
            if (d->rc != CURLE_OK)
                printf("%s: failed: %s\n", d->url, curl_easy_strerror(d->rc));
            else
                printf("%s: failed: status %ld\n", d->url, d->status);
        }
    }
    printf("downloaded %d of %d URLs, %lld bytes, with %d goroutines in %lld ms\n", n - failed, n,
           total, jobs, (long long)(took / GORO_MILLISECOND));

    goro_ctx_release(ctx);
    download_chan_release(todo);
    free(fs);
    free(ds);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
