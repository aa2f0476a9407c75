/* group.c - groups of tasks with a shared error and context (Go:
 * golang.org/x/sync/errgroup, with SetLimit).
 *
 * A group is a waitgroup counting the running tasks, a cancel context that
 * the first error cancels, and, when limited, a weighted semaphore of the
 * limit's size that goro_group_go acquires before spawning (so the caller
 * waits for a slot, as errgroup's Go does) and each task releases when it
 * returns.  The first error is kept under the group's lock.
 *
 * Each task needs a small record (group, fn, arg) that lives until it
 * returns: one allocation per goro_group_go.
 *
 * Lifetimes: every public call checks g->life first (chan.h), so a use
 * after goro_group_free, a second free included, dies naming where the
 * group was made.
 */
#include "chan.h"
#include "sanitizer.h"

#include <stdlib.h>

struct goro_group {
    goro__life life;            /* first: see chan.h */
    goro_ctx *ctx;
    goro_waitgroup wg;
    goro_sema limit;            /* size 0: no limit */
    goro__lock lock;            /* a leaf: lock order: docs/internals.md, "Lock order" */
    int err;                    /* first error; protected by lock */
};

struct task {
    goro_group *g;
    int (*fn)(goro_ctx *, void *);
    void *arg;
};

goro_group *goro_group_make_at(goro_ctx *parent, const char *file, int line)
{
    goro_group *g = goro__calloc(1, sizeof *g);

    goro__note_thread();
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    g->life = (goro__life)GORO_LIFE_INIT("group", file, line);
    g->ctx = goro_ctx_with_cancel_at(parent, file, line);
    if (!g->ctx) {
        goro__free(g);
        errno = ENOMEM;
        return NULL;
    }
    g->wg = (goro_waitgroup)GORO_WAITGROUP_INIT;
    g->limit = (goro_sema)GORO_SEMA_INIT(0);
    g->lock = (goro__lock)GORO_LOCK_INIT;
    return g;
}

/* The exported symbol behind the goro_group_make() macro. */
goro_group *(goro_group_make)(goro_ctx *parent)
{
    return goro_group_make_at(parent, NULL, 0);
}

goro_ctx *goro_group_ctx(goro_group *g)
{
    if (!g)
        return NULL;
    goro__life_check(&g->life);
    return g->ctx;
}

void goro_group_set_limit(goro_group *g, int n)
{
    if (!g)
        return;
    goro__life_check(&g->life);
    g->limit.size = n < 0 ? 0 : n;
}

static void task_run(void *arg)
{
    struct task *t = arg;
    goro_group *g = t->g;
    int err = t->fn(g->ctx, t->arg);

    goro__free(t);
    if (err) {
        goro__lock_acquire(&g->lock);
        bool first = g->err == 0;
        if (first)
            g->err = err;
        goro__lock_release(&g->lock);
        if (first)
            goro_ctx_cancel(g->ctx);
    }
    if (g->limit.size)
        goro_sema_release(&g->limit, 1);
    goro_waitgroup_done(&g->wg);
}

int goro_group_go_at(goro_group *g, int (*fn)(goro_ctx *, void *), void *arg, const char *entry,
                     const char *file, int line, const char *func)
{
    struct task *t;
    int e;

    if (!g)
        return EINVAL;
    goro__life_check(&g->life);
    if (!fn)
        return EINVAL;
    t = goro__malloc(sizeof *t);
    if (!t)
        return ENOMEM;
    *t = (struct task){.g = g, .fn = fn, .arg = arg};
    /* Wait for a free slot.  Only a plain thread without memory for its
     * waiter record fails here (ENOMEM); a task started without a slot
     * would release one it never took. */
    if (g->limit.size && (e = goro_sema_acquire(&g->limit, 1)) != 0) {
        goro__free(t);
        return e;
    }
    goro_waitgroup_add(&g->wg, 1);
    /* Dumps show the task's own function and the caller's site, not
     * task_run and this file. */
    e = goro_go_at(NULL, task_run, t, entry, file, line, func);
    if (e) {
        goro__free(t);
        if (g->limit.size)
            goro_sema_release(&g->limit, 1);
        goro_waitgroup_done(&g->wg);
    }
    return e;
}

/* The exported symbol behind the goro_group_go() macro. */
int(goro_group_go)(goro_group *g, int (*fn)(goro_ctx *, void *), void *arg)
{
    return goro_group_go_at(g, fn, arg, NULL, NULL, 0, NULL);
}

int goro_group_wait(goro_group *g)
{
    int err;

    if (!g)
        return EINVAL;
    goro__life_check(&g->life);
    goro_waitgroup_wait(&g->wg);
    goro_ctx_cancel(g->ctx);
    goro__lock_acquire(&g->lock);
    err = g->err;
    goro__lock_release(&g->lock);
    return err;
}

void goro_group_free(goro_group *g)
{
    if (!g)
        return;
    goro__life_check_release(&g->life);
    goro_ctx_release(g->ctx);
    goro__life_free(g, sizeof *g);
}
