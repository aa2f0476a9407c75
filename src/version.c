/* version.c - goro_version(), and the check that the runtime is not
 * compiled with a sanitizer it does not know about.
 *
 * A sanitizer needs the runtime's cooperation (sanitizer.h): under
 * ThreadSanitizer every goroutine is a fiber, and the runtime itself must
 * not be instrumented; under AddressSanitizer every stack switch is
 * announced.  The CMake build arranges both from GORO_SANITIZE, or from
 * -fsanitize=... found in the compiler flags.  A build that compiles the
 * sources with -fsanitize=thread or =address some other way would crash at
 * the first goroutine switch; this file stops it at compile time instead.
 */
#include "goro.h"

#if defined(__SANITIZE_THREAD__)
#define GORO__SEES_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO__SEES_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GORO__SEES_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO__SEES_ASAN 1
#endif
#endif

#if defined(GORO__SEES_TSAN)
#error "goro: the runtime must not be compiled with -fsanitize=thread: build it with CMake and GORO_SANITIZE=thread (or keep -fsanitize=thread in CMAKE_C_FLAGS: CMake then does the same)"
#endif
#if defined(GORO__SEES_ASAN) && !defined(GORO_ASAN)
#error "goro: -fsanitize=address needs the runtime's stack-switch annotations: build it with CMake and GORO_SANITIZE=address (or define GORO_ASAN=1)"
#endif

int goro_version(void)
{
    return GORO_VERSION;
}
