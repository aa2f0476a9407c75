/* typed_misuse.c - what the typed layer must reject at compile time.
 *
 * Compiled (never linked) by ctest with the project's warning flags and
 * -Werror, once per CASE: CASE=0 is the positive control and must compile;
 * every other CASE is one misuse and must fail with the diagnostic that
 * tests/CMakeLists.txt expects.  The file builds as C and as C++. */
#include <goro.h>

GORO_CHAN_TYPE(int_chan, int);

struct job {
    int n;
};
struct other {
    double d;
};
GORO_CHAN_TYPE(job_chan, struct job);

static void work(struct job *j)
{
    (void)j;
}

static int task(goro_ctx *ctx, struct job *j)
{
    (void)ctx;
    return j->n;
}

static int not_void(struct job *j)
{
    return j->n;
}

int typed_misuse(int_chan *c, job_chan *jc, goro_chan *u, goro_group *g);

int typed_misuse(int_chan *c, job_chan *jc, goro_chan *u, goro_group *g)
{
    int v = 0;
    long l = 0;
    bool ok;
    struct job j = {1};
    struct other o = {2.0};
    int r = 0;
    (void)c, (void)jc, (void)u, (void)g, (void)v, (void)j;
    (void)l;
    (void)o;
    (void)ok;
    (void)not_void;
#if CASE == 0
    /* Every form, used right. */
    int_chan *m = goro_make(int_chan, 4);
    r += int_chan_send(c, v * 2);
    r += int_chan_recv(c, &v);
    r += int_chan_recv_ok(c, &v) ? 1 : 0;
    r += int_chan_try_send(c, 3);
    r += int_chan_try_recv(c, &v);
    r += job_chan_send(jc, j);
    r += GORO_SELECT(int_chan_case_recv(c, &v), int_chan_case_recv_ok(c, &v, &ok),
                     int_chan_case_send(c, &v), job_chan_case_recv(jc, &j),
                     goro_case_recv(u, NULL), goro_case_timeout(1));
    r += GORO_SEND(u, &v);
    r += GORO_SELECT(GORO_CASE_RECV(u, &v), goro_case_default());
    r += goro_go(work, &j);
    r += goro_go(work, NULL);
    r += goro_group_go(g, task, &j);
    r += int_chan_from(int_chan_chan(m)) == m;
    int_chan_release(m);
#elif CASE == 1
    r += int_chan_send(c, j); /* a struct job on an int channel */
#elif CASE == 2
    r += int_chan_recv(c, &l); /* receive into a long */
#elif CASE == 3
    r += GORO_SELECT(int_chan_case_recv(c, &l)); /* receive case into a long */
#elif CASE == 4
    r += GORO_SELECT(int_chan_case_send(c, &l)); /* send case from a long */
#elif CASE == 5
    r += int_chan_send(jc, 1); /* a job channel where an int channel goes */
#elif CASE == 6
    r += int_chan_send(u, 1); /* an untyped channel without int_chan_from */
#elif CASE == 7
    r += goro_go(work, &o); /* worker of struct job *, argument struct other * */
#elif CASE == 8
    r += goro_group_go(g, task, &o); /* task of struct job *, argument struct other * */
#elif CASE == 9
    r += goro_go(not_void, &j); /* a goroutine function must return void */
#elif CASE == 10
    r += job_chan_recv(jc, &v); /* receive a job into an int */
#else
#error "unknown CASE"
#endif
    return r;
}
