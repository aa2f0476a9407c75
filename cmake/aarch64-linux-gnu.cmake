# Cross toolchain for AArch64 Linux (Debian's gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross); tests run under qemu-aarch64 (package qemu-user).
#
# Criterion for arm64 is not installed system-wide: Debian 12 cannot hold
# libcriterion-dev:amd64 and :arm64 together (libnanomsg5 and
# libhttp-parser-dev are not Multi-Arch: same, so apt removes the amd64
# Criterion).  scripts/aarch64-sysroot.sh unpacks the arm64 packages of
# Criterion and its run-time closure into GORO_AARCH64_SYSROOT instead.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# The extra sysroot with Criterion (see above); build/_sysroot/aarch64 by default.
if(NOT DEFINED GORO_AARCH64_SYSROOT)
  if(DEFINED ENV{GORO_AARCH64_SYSROOT})
    set(GORO_AARCH64_SYSROOT "$ENV{GORO_AARCH64_SYSROOT}")
  else()
    get_filename_component(GORO_AARCH64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/_sysroot/aarch64" ABSOLUTE)
  endif()
endif()
set(GORO_AARCH64_SYSROOT "${GORO_AARCH64_SYSROOT}" CACHE PATH
    "Unpacked arm64 packages (Criterion and its dependencies), made by scripts/aarch64-sysroot.sh")
# try_compile() projects re-read this file; hand them the sysroot too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES GORO_AARCH64_SYSROOT)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu "${GORO_AARCH64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
endif()
