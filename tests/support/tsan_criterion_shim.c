/* tsan_criterion_shim.c - lets Criterion start under ThreadSanitizer.
 *
 * Why: BoxFort, Criterion's sandbox, puts its inheritable arena (shared
 * with every test worker at the same address) at a random address in
 * [0x2000'0000'0000, 0x6000'0000'0000): candidate number r & 0x3fffff, a
 * 16 MiB stride apart, with r from rand_r().  It skips candidates that
 * mincore() finds mapped and gives up after a handful of tries.  TSan
 * reserves almost all of that window for its shadow and metadata; with
 * GCC 12 only [0x5500'0000'0000, 0x5700'0000'0000) is application memory,
 * about 3% of the candidates.  So most runs abort with "criterion: Could not
 * initialize inheritable arena: Resource temporarily unavailable"
 * (Criterion issue #274, open since 2018), and the rest crash or pass at
 * random.
 *
 * What: this file defines rand_r() for the test executable, which the
 * dynamic linker binds ahead of glibc's.  It is glibc's algorithm, the same
 * sequence for every caller; only for calls that come from libcriterion it
 * skips the values whose arena candidate TSan would refuse.  The oracle is
 * TSan's own mmap interceptor: a hinted mmap() lands at the hint only when
 * the range is free and TSan counts it as application memory.
 *
 * Linked into the tests of the tsan preset only (tests/CMakeLists.txt). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* BoxFort's 64-bit arena window (src/arena.c: mmap_base, mmap_off,
 * mmap_off_mask). */
#define ARENA_BASE  ((uintptr_t)0x200000000000)
#define ARENA_STEP  ((uintptr_t)1 << 24)
#define ARENA_MASK  ((uintptr_t)0x3fffff)
/* Tries before handing back whatever comes next. */
#define MAX_SKIPS   100000

/* glibc's rand_r(): three steps of the ANSI C LCG, 31 bits out. */
static int lcg_rand_r(unsigned int *seed)
{
    unsigned int next = *seed;
    int result;

    next = next * 1103515245u + 12345u;
    result = (int)((next / 65536u) % 2048u);
    next = next * 1103515245u + 12345u;
    result <<= 10;
    result ^= (int)((next / 65536u) % 1024u);
    next = next * 1103515245u + 12345u;
    result <<= 10;
    result ^= (int)((next / 65536u) % 1024u);
    *seed = next;
    return result;
}

/* True when the code at pc belongs to libcriterion. */
static int from_criterion(const void *pc)
{
    Dl_info info;
    return dladdr(pc, &info) != 0 && info.dli_fname != NULL &&
           strstr(info.dli_fname, "libcriterion") != NULL;
}

/* True when TSan lets a mapping sit at the candidate address for r: the
 * hint is honoured only for free application memory (for other addresses
 * TSan drops the hint and the kernel picks another place). */
static int arena_candidate_ok(int r)
{
    void *want = (void *)(ARENA_BASE + ((uintptr_t)r & ARENA_MASK) * ARENA_STEP);
    void *got = mmap(want, ARENA_STEP, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (got == MAP_FAILED)
        return 0;
    munmap(got, ARENA_STEP);
    return got == want;
}

__attribute__((visibility("default")))
int rand_r(unsigned int *seed)
{
    int r = lcg_rand_r(seed);
    if (!from_criterion(__builtin_return_address(0)))
        return r;
    for (int i = 0; i < MAX_SKIPS && !arena_candidate_ok(r); i++)
        r = lcg_rand_r(seed);
    return r;
}
