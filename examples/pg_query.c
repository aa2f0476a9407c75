/* pg_query.c - a concurrent PostgreSQL query runner, written with libpq's
 * ordinary blocking API.
 *
 *   pg_query CONNINFO [WORKERS [TIMEOUT_MS [SQL...]]]
 *                                  (default: 4 workers, 5000 ms, 8 queries)
 *
 * WORKERS goroutines, each with a connection of its own, take queries from
 * a jobs channel and send what they found (rows, the first value, the
 * time) to a results channel; main prints the results in the order the
 * queries were given.  A context with TIMEOUT_MS bounds the whole run: when
 * it ends, every worker still inside a query has it canceled on the server
 * (PQcancel, from goro_ctx_after_func) and reports "canceled".
 *
 * With no SQL given it runs eight queries of its own: counts and sums over
 * generate_series, the server's version, and pg_sleep(0.2) four times,
 * which take about 0.2 s together with 4 workers, not 0.8 s.
 *
 * The workers call PQexec directly: a blocking call inside a C library
 * parks the goroutine that made it rather than its thread (docs/guide.md,
 * "Using existing C libraries").
 * Go: a worker pool over channels, context.WithTimeout, database/sql's
 * QueryContext.
 */
#define _GNU_SOURCE
#include <goro.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct result {
    int index;                  /* the query's place in the input */
    int rows;                   /* -1: failed */
    char first[64];             /* first row's first value, or the error */
    int64_t ns;
};

GORO_CHAN_TYPE(job_chan, int);
GORO_CHAN_TYPE(result_chan, struct result);

struct worker {
    int id;
    const char *conninfo;
    const char **sql;
    job_chan *jobs;
    result_chan *results;
    goro_ctx *ctx;              /* the whole run's deadline */
    goro_waitgroup *wg;         /* main waits for the workers */
    PGcancel *cancel;           /* the cancel request for this connection */
    goro_waitgroup cancels;     /* cancel_query calls under way */
};

/* Started by the deadline while a query runs: the server ends the query,
 * and the worker's PQexec returns with SQLSTATE 57014. */
static void cancel_query(void *arg)
{
    struct worker *w = arg;
    char err[256];
    PQcancel(w->cancel, err, sizeof err);
    goro_waitgroup_done(&w->cancels);
}

static void worker(void *arg)
{
    struct worker *w = arg;
    PGconn *conn = PQconnectdb(w->conninfo);
    int job;

    if (PQstatus(conn) == CONNECTION_OK)
        w->cancel = PQgetCancel(conn);
    while (job_chan_recv(w->jobs, &job) == 0) {
        struct result r = {.index = job, .rows = -1};
        int64_t t0 = goro_now();

        if (!w->cancel) {
            snprintf(r.first, sizeof r.first, "no connection: %.40s", PQerrorMessage(conn));
        } else if (goro_ctx_err(w->ctx)) {
            snprintf(r.first, sizeof r.first, "canceled before it started");
        } else {
            /* While this query runs, the deadline cancels it on the server. */
            goro_waitgroup_add(&w->cancels, 1);
            goro_ctx_stop *stop = goro_ctx_after_func(w->ctx, cancel_query, w);
            PGresult *res = PQexec(conn, w->sql[job]);
            if (!stop || goro_ctx_after_func_stop(stop))
                goro_waitgroup_done(&w->cancels); /* it will not run */
            goro_ctx_after_func_free(stop);
            if (PQresultStatus(res) == PGRES_TUPLES_OK) {
                r.rows = PQntuples(res);
                snprintf(r.first, sizeof r.first, "%s",
                         r.rows > 0 && PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
            } else if (PQresultStatus(res) == PGRES_COMMAND_OK) {
                r.rows = 0;
            } else {
                const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                if (st && strcmp(st, "57014") == 0)
                    snprintf(r.first, sizeof r.first, "canceled");
                else
                    snprintf(r.first, sizeof r.first, "%.60s", PQresultErrorMessage(res));
                r.first[strcspn(r.first, "\n")] = 0;
            }
            PQclear(res);
        }
        r.ns = goro_now() - t0;
        result_chan_send(w->results, r);
    }
    goro_waitgroup_wait(&w->cancels); /* a cancel_query may still use w->cancel */
    PQfreeCancel(w->cancel);
    PQfinish(conn);
    goro_waitgroup_done(w->wg);
}

static const char *default_sql[] = {
    "SELECT count(*) FROM generate_series(1, 100000)",
    "SELECT sum(g) FROM generate_series(1, 1000) AS g",
    "SELECT 'slept', pg_sleep(0.2)",
    "SELECT g FROM generate_series(1, 250) AS g",
    "SELECT 'slept', pg_sleep(0.2)",
    "SELECT split_part(version(), ' ', 1)",
    "SELECT 'slept', pg_sleep(0.2)",
    "SELECT 'slept', pg_sleep(0.2)",
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pg_query CONNINFO [WORKERS [TIMEOUT_MS [SQL...]]]\n");
        return 2;
    }
    const char *conninfo = argv[1];
    int nworkers = argc > 2 ? atoi(argv[2]) : 4;
    int timeout_ms = argc > 3 ? atoi(argv[3]) : 5000;
    const char **sql = argc > 4 ? (const char **)argv + 4 : default_sql;
    int nsql = argc > 4 ? argc - 4 : (int)(sizeof default_sql / sizeof *default_sql);
    if (nworkers < 1 || timeout_ms < 1) {
        fprintf(stderr, "pg_query: WORKERS and TIMEOUT_MS must be positive\n");
        return 2;
    }

    goro_ctx *ctx = goro_ctx_with_timeout(NULL, (int64_t)timeout_ms * GORO_MILLISECOND);
    job_chan *jobs = goro_make(job_chan, (size_t)nsql);
    result_chan *results = goro_make(result_chan, (size_t)nsql);
    struct worker *ws = calloc((size_t)nworkers, sizeof *ws);
    struct result *byindex = calloc((size_t)nsql, sizeof *byindex);
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    if (!ctx || !jobs || !results || !ws || !byindex) {
        perror("pg_query");
        return 1;
    }

    int64_t t0 = goro_now();
    goro_waitgroup_add(&wg, nworkers);
    for (int i = 0; i < nworkers; i++) {
        ws[i] = (struct worker){.id = i + 1, .conninfo = conninfo, .sql = sql, .jobs = jobs,
                                .results = results, .ctx = ctx, .wg = &wg,
                                .cancels = GORO_WAITGROUP_INIT};
        if (goro_go(worker, &ws[i]) != 0) {
            fprintf(stderr, "pg_query: goro_go failed\n");
            return 1;
        }
    }
    for (int i = 0; i < nsql; i++)
        job_chan_send(jobs, i);
    job_chan_close(jobs);

    int failed = 0;
    for (int i = 0; i < nsql; i++) {
        struct result r;
        result_chan_recv(results, &r);
        byindex[r.index] = r;
    }
    int64_t took = goro_now() - t0;
    for (int i = 0; i < nsql; i++) {
        struct result *r = &byindex[i];
        if (r->rows < 0) {
            failed++;
            printf("query %d: %s (%lld ms): %s\n", i + 1, r->first,
                   (long long)(r->ns / GORO_MILLISECOND), sql[i]);
        } else {
            printf("query %d: %d rows, first value %s (%lld ms)\n", i + 1, r->rows, r->first,
                   (long long)(r->ns / GORO_MILLISECOND));
        }
    }
    printf("ran %d queries on %d connections in %lld ms, %d failed\n", nsql, nworkers,
           (long long)(took / GORO_MILLISECOND), failed);

    goro_waitgroup_wait(&wg); /* the workers close their connections */
    goro_ctx_release(ctx);
    result_chan_release(results);
    job_chan_release(jobs);
    free(byindex);
    free(ws);
    return failed ? 1 : 0;
}
