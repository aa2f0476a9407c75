/* test_libs_pg.c - libpq's blocking API from many goroutines on two
 * threads, against a real PostgreSQL server (libs_common.h: the fixture,
 * and how each call runs).
 *
 *   select_rows      32 goroutines, each with its own connection, run 20
 *                    SELECTs over generate_series: every row counted and
 *                    every value checked; goro's threads bounded.
 *   sleeps_overlap   16 goroutines each wait 300 ms in pg_sleep: together
 *                    they take far less than 16 x 300 ms.
 *   cancel_on_deadline  a context deadline ends a 20 s pg_sleep:
 *                    goro_ctx_after_func sends PQcancel, the query fails
 *                    with SQLSTATE 57014 (query_canceled) at about the
 *                    deadline, the connection still works, and no
 *                    descriptor or goroutine is left.
 */
#define _GNU_SOURCE
#include "libs_common.h"

#include <libpq-fe.h>

TestSuite(libs_pg, .init = gl_procs2, .timeout = GT_TIMEOUT(60));

/* ---- calls through gl_call ---------------------------------------------- */

struct pconnect {
    const char *conninfo;
    PGconn *conn;
};

static void do_connect(void *arg)
{
    struct pconnect *p = arg;
    p->conn = PQconnectdb(p->conninfo);
}

/* A connection, or NULL (recorded as a failure). */
static PGconn *pconnect(const char *conninfo)
{
    struct pconnect p = {conninfo, NULL};
    gl_call(do_connect, &p);
    if (!gt_check(p.conn && PQstatus(p.conn) == CONNECTION_OK, "PQconnectdb(%s): %s", conninfo,
                  p.conn ? PQerrorMessage(p.conn) : "out of memory")) {
        PQfinish(p.conn);
        return NULL;
    }
    return p.conn;
}

struct pexec {
    PGconn *conn;
    const char *sql;
    int nparams;
    const char *const *params;
    PGresult *res;
};

static void do_exec(void *arg)
{
    struct pexec *p = arg;
    if (p->nparams)
        p->res = PQexecParams(p->conn, p->sql, p->nparams, NULL, p->params, NULL, NULL, 0);
    else
        p->res = PQexec(p->conn, p->sql);
}

/* PQexec or PQexecParams; the caller PQclears the result. */
static PGresult *pexec(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
    struct pexec p = {conn, sql, nparams, params, NULL};
    gl_call(do_exec, &p);
    return p.res;
}

static void do_finish(void *arg)
{
    PQfinish(arg);
}

/* PQfinish sends a Terminate message: a write, so it goes through gl_call. */
static void pfinish(PGconn *conn)
{
    if (conn)
        gl_call(do_finish, conn);
}

static const char *conninfo(void)
{
    return gl_need("PG_CONNINFO", "PostgreSQL server");
}

/* ---- select_rows --------------------------------------------------------- */

#define SR_GOROUTINES 32
#define SR_QUERIES 20

struct sr {
    const char *conninfo;
    int id;
    goro_waitgroup *wg;
    _Atomic long *rows;
    _Atomic int *max_threads;
};

static void select_worker(void *arg)
{
    struct sr *w = arg;
    PGconn *conn = pconnect(w->conninfo);

    for (int q = 0; conn && q < SR_QUERIES; q++) {
        int n = 10 + (w->id * 7 + q) % 50, mul = w->id + 1;
        char sn[16], smul[16];
        snprintf(sn, sizeof sn, "%d", n);
        snprintf(smul, sizeof smul, "%d", mul);
        const char *params[] = {smul, sn};
        PGresult *res = pexec(conn, "SELECT g, g * $1::int FROM generate_series(1, $2::int) AS g",
                              2, params);
        if (!gt_check(PQresultStatus(res) == PGRES_TUPLES_OK, "SELECT: %s",
                      PQresultErrorMessage(res))) {
            PQclear(res);
            break;
        }
        gt_check(PQntuples(res) == n && PQnfields(res) == 2, "SELECT: %d rows of %d, want %d of 2",
                 PQntuples(res), PQnfields(res), n);
        for (int r = 0; r < PQntuples(res); r++) {
            int g = atoi(PQgetvalue(res, r, 0)), v = atoi(PQgetvalue(res, r, 1));
            if (!gt_check(g == r + 1 && v == g * mul, "row %d: %d, %d (mul %d)", r, g, v, mul))
                break;
            atomic_fetch_add(w->rows, 1);
        }
        PQclear(res);
        gl_note_threads(w->max_threads);
    }
    pfinish(conn);
    goro_waitgroup_done(w->wg);
}

Test(libs_pg, select_rows)
{
    const char *ci = conninfo();
    static struct sr ws[SR_GOROUTINES];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    _Atomic long rows = 0;
    _Atomic int max_threads = 0;
    long want = 0;

    goro_waitgroup_add(&wg, SR_GOROUTINES);
    for (int i = 0; i < SR_GOROUTINES; i++) {
        for (int q = 0; q < SR_QUERIES; q++)
            want += 10 + (i * 7 + q) % 50;
        ws[i] = (struct sr){ci, i, &wg, &rows, &max_threads};
        gt_spawn(select_worker, &ws[i]);
    }
    goro_waitgroup_wait(&wg);
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&rows), want);
    int procs = goro_maxprocs(0);
    cr_assert_eq(procs, 2);
    cr_assert_leq(atomic_load(&max_threads), gl_thread_bound(procs),
                  "%d threads for %d procs", atomic_load(&max_threads), procs);
    gt_quiesce();
}

/* ---- sleeps_overlap ---------------------------------------------------------- */

#define SO_GOROUTINES 16

struct so {
    const char *conninfo;
    goro_waitgroup *wg;
    _Atomic long *slept;
    _Atomic int *max_threads;
};

static void sleep_worker(void *arg)
{
    struct so *w = arg;
    PGconn *conn = pconnect(w->conninfo);

    if (conn) {
        PGresult *res = pexec(conn, "SELECT pg_sleep(0.3), 42", 0, NULL);
        if (gt_check(PQresultStatus(res) == PGRES_TUPLES_OK, "pg_sleep: %s",
                     PQresultErrorMessage(res)) &&
            gt_check(PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "42") == 0,
                     "pg_sleep: wrong row"))
            atomic_fetch_add(w->slept, 1);
        PQclear(res);
        gl_note_threads(w->max_threads);
    }
    pfinish(conn);
    goro_waitgroup_done(w->wg);
}

Test(libs_pg, sleeps_overlap)
{
    const char *ci = conninfo();
    static struct so ws[SO_GOROUTINES];
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    _Atomic long slept = 0;
    _Atomic int max_threads = 0;
    int64_t t0 = goro_now();

    goro_waitgroup_add(&wg, SO_GOROUTINES);
    for (int i = 0; i < SO_GOROUTINES; i++) {
        ws[i] = (struct so){ci, &wg, &slept, &max_threads};
        gt_spawn(sleep_worker, &ws[i]);
    }
    goro_waitgroup_wait(&wg);
    int64_t took = goro_now() - t0;
    gt_assert_no_failures();
    cr_assert_eq(atomic_load(&slept), SO_GOROUTINES);
    cr_assert_geq(took, 300 * GORO_MILLISECOND);
    /* One after another they would take 4.8 s. */
    cr_assert_lt(took, gt_ms(2500), "16 sleeps of 300 ms took %lld ms together",
                 (long long)(took / GORO_MILLISECOND));
    cr_assert_leq(atomic_load(&max_threads), gl_thread_bound(goro_maxprocs(0)));
    gt_quiesce();
}

/* ---- cancel_on_deadline ---------------------------------------------------------- */

struct sender {
    PGcancel *cancel;
    goro_waitgroup running; /* send_cancel calls started and not done */
};

static void send_cancel(void *arg)
{
    struct sender *s = arg;
    char err[256];
    gt_check(PQcancel(s->cancel, err, sizeof err) == 1, "PQcancel: %s", err);
    goro_waitgroup_done(&s->running);
}

struct canceled {
    const char *conninfo;
    ExecStatusType status;
    char sqlstate[8];
    int ctx_err;
    int64_t took;
    bool usable_after;
    goro_chan *done;
};

static void canceled_query(void *arg)
{
    struct canceled *c = arg;
    PGconn *conn = pconnect(c->conninfo);
    struct sender sender = {conn ? PQgetCancel(conn) : NULL, GORO_WAITGROUP_INIT};
    goro_ctx *ctx = NULL;
    goro_ctx_stop *stop = NULL;

    if (!gt_check(sender.cancel != NULL, "no connection or PQgetCancel failed"))
        goto out;
    ctx = goro_ctx_with_timeout(NULL, gt_ms(100));
    goro_waitgroup_add(&sender.running, 1);
    stop = goro_ctx_after_func(ctx, send_cancel, &sender);
    gt_check(ctx && stop, "context: errno %d", gt_errno());

    int64_t t0 = goro_now();
    PGresult *res = pexec(conn, "SELECT pg_sleep(20)", 0, NULL);
    c->took = goro_now() - t0;
    c->status = PQresultStatus(res);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", st ? st : "");
    PQclear(res);

    if (!stop || goro_ctx_after_func_stop(stop))
        goro_waitgroup_done(&sender.running); /* send_cancel will not run */
    goro_waitgroup_wait(&sender.running);     /* or has returned */
    goro_ctx_after_func_free(stop);
    c->ctx_err = goro_ctx_err(ctx);
    goro_ctx_release(ctx);

    res = pexec(conn, "SELECT 7", 0, NULL);
    c->usable_after = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "7") == 0;
    PQclear(res);
out:
    PQfreeCancel(sender.cancel);
    pfinish(conn);
    goro_chan_close(c->done);
}

Test(libs_pg, cancel_on_deadline)
{
    struct canceled c = {.conninfo = conninfo()};
    gl_prime_poller();
    int fds = gl_fd_count();

    c.done = gt_mkchan(0, 0);
    gt_spawn(canceled_query, &c);
    cr_assert_eq(goro_chan_recv(c.done, NULL), EPIPE);
    goro_chan_release(c.done);
    gt_assert_no_failures();
    cr_assert_eq(c.status, PGRES_FATAL_ERROR, "status %s", PQresStatus(c.status));
    cr_assert_str_eq(c.sqlstate, "57014");
    cr_assert_eq(c.ctx_err, ETIMEDOUT);
    cr_assert_geq(c.took, 90 * GORO_MILLISECOND, "ended after %lld ns, before the deadline",
                  (long long)c.took);
    cr_assert_lt(c.took, gt_ms(3000), "ended after %lld ns", (long long)c.took);
    cr_assert(c.usable_after, "the connection no longer works after the cancel");
    cr_assert_eq(gl_fd_count(), fds, "descriptors before %d, after %d", fds, gl_fd_count());
    gt_quiesce();
}
