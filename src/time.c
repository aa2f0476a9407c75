/* time.c - goro_timer and goro_ticker (Go: time.Timer, time.Ticker).
 *
 * Each owns a runtime timer (timer.c) and a channel of int64_t with a buffer
 * of one.  The timer's callback sends the fire time without blocking, so a
 * receiver that is not keeping up finds one value waiting and misses the
 * rest, as in Go.  A ticker's callback re-arms it for the next multiple of
 * its period after now, skipping ticks it missed.
 *
 * Stop and reset follow Go 1.23: after they return, no stale value can be
 * received.  goro__timer_del waits out a callback in progress, then the
 * channel is drained.
 *
 * The callers of stop/reset/free on one timer must not race each other (as
 * in Go, where only the owner resets a timer); the callback may race them.
 *
 * A func timer (goro_after_func, Go: time.AfterFunc) has no channel: its
 * callback starts fn(arg) in a goroutine of its own, so fn may block and
 * the timer callback stays non-blocking.  The goroutine gets fn and arg, not
 * the timer, so the owner may free the timer while fn runs.  Stop's result
 * is then exactly goro__timer_del's: true when the callback had not yet
 * started fn.  Without memory for the goroutine the callback re-arms the
 * timer a millisecond later rather than drop the call (a stop in between
 * still prevents it, and returns true).  Arming a func timer (make, reset)
 * happens before the fn it starts, as in Go: a release on the timer when
 * armed, paired with an acquire in the callback, since the timer heap's
 * locks are invisible to ThreadSanitizer.
 *
 * Lifetimes: every public call checks the timer's goro__life first
 * (chan.h), so a use after goro_timer_free or goro_ticker_free, a second
 * free included, dies naming where the timer or ticker was made.
 */
#include "chan.h"
#include "sanitizer.h"

#include <stdlib.h>

struct goro_timer {
    goro__life life;            /* first: see chan.h */
    goro__timer t;              /* the callback finds us by offsetof */
    goro_chan *c;
    int64_t period;             /* tickers; 0 for a timer */
    void (*fn)(void *);         /* func timers: started in a goroutine; else NULL */
    void *arg;
};

struct goro_ticker {
    struct goro_timer tm;
};

static void fire(goro__timer *t)
{
    struct goro_timer *tm = (struct goro_timer *)((char *)t - offsetof(struct goro_timer, t));
    int64_t now = goro_now();

    if (tm->fn) {
        /* Go: goFunc.  goro_go_at only queues the new G: it never parks. */
        goro__hb_acquire(tm); /* pairs with those in timer_new, reset */
        if (goro_go_at(NULL, tm->fn, tm->arg, "goro_after_func", NULL, 0, NULL) == 0)
            return;
        t->when = now + GORO_MILLISECOND; /* no memory for a goroutine: retry */
        goro__hb_release(tm);                /* maybe on another thread */
        if (goro__timer_add(t) != 0)
            goro__throw("goro: out of memory starting a goro_after_func goroutine");
        return;
    }
    goro_chan_try_send(tm->c, &now); /* full: the receiver misses this one */
    if (tm->period) {
        t->when += tm->period;
        if (t->when <= now)
            t->when = now + tm->period - (now - t->when) % tm->period;
        goro__timer_add(t); /* ENOMEM: the ticker stops */
    }
}

static inline void check(struct goro_timer *tm)
{
    goro__life_check(&tm->life);
}

static struct goro_timer *timer_new(size_t size, int64_t ns, int64_t period,
                                    void (*fn)(void *), void *arg, const char *file, int line)
{
    struct goro_timer *tm;

    goro__note_thread();

    goro__init();
    tm = goro__calloc(1, size);
    if (!tm) {
        errno = ENOMEM;
        return NULL;
    }
    tm->life = (goro__life)GORO_LIFE_INIT(period ? "ticker" : "timer", file, line);
    tm->fn = fn;
    tm->arg = arg;
    if (fn)
        goro__hb_release(tm); /* the caller's writes happen before fn */
    else
        tm->c = goro_chan_make_at(sizeof(int64_t), 1, file, line);
    if (!fn && !tm->c) {
        goro__free(tm);
        errno = ENOMEM;
        return NULL;
    }
    tm->period = period;
    tm->t.fn = fire;
    tm->t.when = goro__deadline_after(ns);
    if (goro__timer_add(&tm->t) != 0) {
        goro_chan_release(tm->c);
        goro__free(tm);
        errno = ENOMEM;
        return NULL;
    }
    return tm;
}

/* Stops tm and drains its channel.  True if it stopped a pending timer or
 * took back a value nobody had received.  A func timer has no channel
 * (try_recv of NULL is EINVAL): true if fn had not been started. */
static bool timer_stop(struct goro_timer *tm)
{
    bool pending = goro__timer_del(&tm->t);
    bool drained = goro_chan_try_recv(tm->c, NULL) == 0;
    return pending || drained;
}

goro_timer *goro_timer_make_at(int64_t ns, const char *file, int line)
{
    return timer_new(sizeof(struct goro_timer), ns, 0, NULL, NULL, file, line);
}

/* The exported symbol behind the goro_timer_make() macro. */
goro_timer *(goro_timer_make)(int64_t ns)
{
    return goro_timer_make_at(ns, NULL, 0);
}

goro_timer *goro_after_func(int64_t ns, void (*fn)(void *), void *arg)
{
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    return timer_new(sizeof(struct goro_timer), ns, 0, fn, arg, NULL, 0);
}

bool goro_timer_stop(goro_timer *t)
{
    if (!t)
        return false;
    check(t);
    return timer_stop(t);
}

bool goro_timer_reset(goro_timer *t, int64_t ns)
{
    bool was;

    if (!t)
        return false;
    check(t);
    was = timer_stop(t);
    if (t->fn)
        goro__hb_release(t); /* as in timer_new */
    t->t.when = goro__deadline_after(ns);
    if (goro__timer_add(&t->t) != 0)
        fire(&t->t); /* no memory for the heap: fire now rather than never */
    return was;
}

goro_chan *goro_timer_chan(goro_timer *t)
{
    if (!t)
        return NULL;
    check(t);
    return t->c;
}

static void timer_free(struct goro_timer *t, size_t size)
{
    goro__life_check_release(&t->life);
    goro__timer_del(&t->t);
    goro_chan_release(t->c);
    goro__life_free(t, size);
}

void goro_timer_free(goro_timer *t)
{
    if (t)
        timer_free(t, sizeof *t);
}

goro_ticker *goro_ticker_make_at(int64_t ns, const char *file, int line)
{
    if (ns <= 0) {
        errno = EINVAL;
        return NULL;
    }
    return (goro_ticker *)timer_new(sizeof(goro_ticker), ns, ns, NULL, NULL, file, line);
}

/* The exported symbol behind the goro_ticker_make() macro. */
goro_ticker *(goro_ticker_make)(int64_t ns)
{
    return goro_ticker_make_at(ns, NULL, 0);
}

bool goro_ticker_stop(goro_ticker *t)
{
    if (!t)
        return false;
    check(&t->tm);
    bool was = goro__timer_del(&t->tm.t);
    goro_chan_try_recv(t->tm.c, NULL);
    return was;
}

bool goro_ticker_reset(goro_ticker *t, int64_t ns)
{
    if (!t)
        return false;
    check(&t->tm);
    if (ns <= 0)
        return false;
    bool was = goro_ticker_stop(t);
    t->tm.period = ns;
    t->tm.t.when = goro__deadline_after(ns);
    goro__timer_add(&t->tm.t);
    return was;
}

goro_chan *goro_ticker_chan(goro_ticker *t)
{
    if (!t)
        return NULL;
    check(&t->tm);
    return t->tm.c;
}

void goro_ticker_free(goro_ticker *t)
{
    if (t)
        timer_free(&t->tm, sizeof *t);
}
