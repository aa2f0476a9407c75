/* sanitizer.h - what goro tells ThreadSanitizer, AddressSanitizer and
 * Valgrind about goroutines.
 *
 * Every goroutine is a TSan fiber.  Switches use the no-sync flavour, so two
 * goroutines that happen to run one after the other on the same thread are
 * NOT ordered: the only happens-before edges TSan sees are the ones the Go
 * memory model promises, which the runtime states explicitly with
 * goro__hb_release()/goro__hb_acquire() (spawn -> start, send -> receive,
 * unlock -> lock, ...).  The runtime itself is compiled without TSan
 * instrumentation and uses its own futex locks, so its internal
 * synchronisation adds no edge either: as in Go's race detector.
 *
 * For ASan, every switch is bracketed by __sanitizer_start_switch_fiber /
 * __sanitizer_finish_switch_fiber, and a recycled stack is unpoisoned before
 * reuse.  For Valgrind, every stack is registered.  The switch code calls
 * the static inline helpers below, which are empty in a normal build, so it
 * carries no sanitizer #if of its own.
 */
#ifndef GORO_SANITIZER_H
#define GORO_SANITIZER_H

#include <stddef.h>

#if defined(GORO_TSAN)
#include <errno.h>
#endif
#if defined(GORO_ASAN)
#include <pthread.h> /* pthread_getattr_np: the library builds with _GNU_SOURCE */
#endif

#if defined(GORO_TSAN)
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_set_fiber_name(void *fiber, const char *name);
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define GORO_TSAN_NOSYNC 1u
void AnnotateBenignRaceSized(const char *file, int line, const volatile void *mem, long size,
                             const char *description);
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);
/* The runtime's own malloc/free calls are intercepted by TSan, which would
 * check them against each other across goroutines; the runtime's locks are
 * invisible to it, so bracket them to keep them out of its view. */
#define goro__tsan_ignore_begin()                                              \
    (AnnotateIgnoreReadsBegin(__FILE__, __LINE__), AnnotateIgnoreWritesBegin(__FILE__, __LINE__))
#define goro__tsan_ignore_end()                                                \
    (AnnotateIgnoreWritesEnd(__FILE__, __LINE__), AnnotateIgnoreReadsEnd(__FILE__, __LINE__))
#define goro__hb_acquire(addr) __tsan_acquire((void *)(addr))
#define goro__hb_release(addr) __tsan_release((void *)(addr))
#else
#define goro__tsan_ignore_begin() ((void)0)
#define goro__tsan_ignore_end() ((void)0)
#define goro__hb_acquire(addr) ((void)(addr))
#define goro__hb_release(addr) ((void)(addr))
#endif

#if defined(GORO_ASAN)
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

/* ---- switches ------------------------------------------------------------
 *
 * What the sanitizers must hear around every goro__switch; empty (and the
 * arguments unevaluated in effect: plain loads) in a normal build.
 *
 *   goro__san_switch_begin(fiber, fake_save, lo, size);
 *   goro__switch(&from->sp, to->sp);
 *   goro__san_switch_end(fake);     -- in the context that resumes
 *
 * fiber is the TSan fiber of the context switched to, [lo, lo + size) its
 * stack; fake_save is where ASan keeps the fake stack of the context left
 * (NULL when that context never resumes: it exits); fake is the value saved
 * there when the resumed context left (NULL in a new one). */
static inline void goro__san_switch_begin(void *fiber, void **fake_save, const void *lo,
                                          size_t size)
{
#if defined(GORO_TSAN)
    __tsan_switch_to_fiber(fiber, GORO_TSAN_NOSYNC);
#endif
#if defined(GORO_ASAN)
    __sanitizer_start_switch_fiber(fake_save, lo, size);
#endif
    (void)fiber;
    (void)fake_save;
    (void)lo;
    (void)size;
}

static inline void goro__san_switch_end(void *fake)
{
#if defined(GORO_ASAN)
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    (void)fake;
}

/* At the start of an M's thread: its g0's TSan fiber (the thread's own)
 * and, for ASan, g0's stack bounds (the thread's stack). */
static inline void goro__san_thread_start(void **fiber, char **g0_lo, size_t *g0_size)
{
#if defined(GORO_TSAN)
    *fiber = __tsan_get_current_fiber();
    /* errno is per goroutine (saved and restored at every switch), but to
     * TSan it is one thread-local word that unordered goroutines share. */
    AnnotateBenignRaceSized(__FILE__, __LINE__, &errno, sizeof errno,
                            "goro: errno is saved and restored per goroutine");
#endif
#if defined(GORO_ASAN)
    pthread_attr_t attr;
    void *lo;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lo, g0_size);
        *g0_lo = lo;
        pthread_attr_destroy(&attr);
    }
#endif
    (void)fiber;
    (void)g0_lo;
    (void)g0_size;
}

#if defined(GORO_HAVE_VALGRIND)
#include <valgrind/valgrind.h>
#define goro__valgrind_stack_register(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#define goro__valgrind_stack_deregister(id) VALGRIND_STACK_DEREGISTER(id)
#else
#define goro__valgrind_stack_register(lo, hi) (0u)
#define goro__valgrind_stack_deregister(id) ((void)(id))
#endif

#endif /* GORO_SANITIZER_H */
