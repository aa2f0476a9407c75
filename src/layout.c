/* layout.c - compile-time checks of the layouts that two views share.
 *
 * goro.h must declare the sync types by value (they are embedded in user
 * structs and have static initializers), while the runtime works on them
 * through its own types and atomics.  Each coupling below is an assumption
 * some file makes by a cast or an atomic builtin on a public field; the
 * asserts make a change on one side that breaks it fail to compile instead
 * of corrupting memory.  The saved-frame layout shared with the assembly is
 * pinned in arch/frame.h.  Nothing here generates code.
 */
#include "runtime.h"

#include <stdalign.h>

/* sync.c: a goro__waitlist's uint32_t lock is used as a goro__lock (a cast
 * in wl_lock()), and the public static initializers zero it, which must be
 * GORO_LOCK_INIT: goro__lock is exactly one 32-bit futex word at offset 0. */
_Static_assert(sizeof(goro__lock) == sizeof(((goro__waitlist *)0)->lock),
               "goro__waitlist.lock must have goro__lock's size");
_Static_assert(alignof(goro__lock) <= alignof(uint32_t),
               "goro__waitlist.lock must be aligned enough for goro__lock");
_Static_assert(offsetof(goro__lock, state) == 0, "goro__lock is its futex word");
_Static_assert(sizeof(goro__lock) == sizeof(uint32_t), "the futex word is 32 bits");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "goro__lock_release stores byte 0 and loads bytes 2-3 as the word's low byte "
               "and high half");

/* sync.c: head and tail hold its waiter records (goro__sudog first). */
_Static_assert(sizeof(((goro__waitlist *)0)->head) == sizeof(goro__sudog *),
               "goro__waitlist.head holds a waiter pointer");

/* sync.c: the public counters are updated with __atomic builtins, which
 * must be lock-free (no libatomic lock), and the 64-bit waitgroup state
 * naturally aligned (not so on every 32-bit ABI). */
#if __GCC_ATOMIC_INT_LOCK_FREE != 2 || __GCC_ATOMIC_LLONG_LOCK_FREE != 2
#error "goro: 32- and 64-bit atomics must be lock-free"
#endif
_Static_assert(sizeof(int) == sizeof(int32_t) && sizeof(long long) == sizeof(uint64_t),
               "the lock-free checks above are about these widths");
_Static_assert(offsetof(goro_waitgroup, state) % 8 == 0 && alignof(goro_waitgroup) >= 8,
               "goro_waitgroup.state must be 8-byte aligned for its 64-bit atomics");
