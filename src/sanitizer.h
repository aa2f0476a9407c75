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
 * reuse.  For Valgrind, every stack is registered.
 */
#ifndef GORO_SANITIZER_H
#define GORO_SANITIZER_H

#include <stddef.h>

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

#if defined(GORO_HAVE_VALGRIND)
#include <valgrind/valgrind.h>
#define goro__valgrind_stack_register(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#define goro__valgrind_stack_deregister(id) VALGRIND_STACK_DEREGISTER(id)
#else
#define goro__valgrind_stack_register(lo, hi) (0u)
#define goro__valgrind_stack_deregister(id) ((void)(id))
#endif

#endif /* GORO_SANITIZER_H */
