# run.cmake - the install_consumer, install_pkgconfig and install_exports
# ctest tests.
#   cmake -DMODE=cmake|pkgconfig|exports -DGORO_BUILD_DIR=... -DCONFIG=...
#         -DLIBDIR=lib -DCONSUMER_DIR=... -DWORK_DIR=... -DC_COMPILER=...
#         -DGENERATOR=... [-DNM=nm] -P run.cmake
# Installs the build tree into WORK_DIR/prefix, builds the consumer against
# it and runs it; every step must succeed and each program must print "ok".
#   cmake:     find_package(goro): goro::goro (shared) and goro::goro_static
#   pkgconfig: pkg-config --cflags --libs goro with an rpath to the prefix,
#              and the static library through pkg-config's libdir
#   exports:   the installed libgoro.so exports goro_* functions and the C
#              library names in cmake/hook-symbols.txt, nothing else: no
#              goro__ internals, no test hooks
cmake_minimum_required(VERSION 3.20)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n${out}${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

function(expect_ok program)
  run("running ${program}" ${program})
  if(NOT run_out STREQUAL "ok\n")
    message(FATAL_ERROR "${program} printed '${run_out}', expected 'ok'")
  endif()
  message(STATUS "${program}: ok")
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
set(config_args "")
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
run("cmake --install" ${CMAKE_COMMAND} --install ${GORO_BUILD_DIR} --prefix ${prefix} ${config_args})

if(MODE STREQUAL "cmake")
  run("configuring the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build
      -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_PREFIX_PATH=${prefix}
      -DCMAKE_BUILD_TYPE=${CONFIG})
  run("building the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build ${config_args})
  expect_ok(${WORK_DIR}/build/consumer)
  expect_ok(${WORK_DIR}/build/consumer_static)
elseif(MODE STREQUAL "pkgconfig")
  find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
  unset(ENV{PKG_CONFIG_LIBDIR})
  run("pkg-config" ${PKG_CONFIG} --cflags --libs goro)
  separate_arguments(flags UNIX_COMMAND "${run_out}")
  message(STATUS "pkg-config --cflags --libs goro: ${flags}")
  file(MAKE_DIRECTORY ${WORK_DIR})
  run("compiling main.c" ${C_COMPILER} -std=c11 -Wall -Wextra ${CONSUMER_DIR}/main.c ${flags}
      -Wl,-rpath,${prefix}/${LIBDIR} -o ${WORK_DIR}/consumer_pc)
  expect_ok(${WORK_DIR}/consumer_pc)
  # Static: the archive itself, so the shared library beside it is not used.
  run("pkg-config" ${PKG_CONFIG} --cflags goro)
  separate_arguments(cflags UNIX_COMMAND "${run_out}")
  run("pkg-config" ${PKG_CONFIG} --variable=libdir goro)
  string(STRIP "${run_out}" libdir)
  run("compiling main.c (static)" ${C_COMPILER} -std=c11 -Wall -Wextra ${CONSUMER_DIR}/main.c
      ${cflags} ${libdir}/libgoro.a -lpthread -o ${WORK_DIR}/consumer_pc_static)
  expect_ok(${WORK_DIR}/consumer_pc_static)
elseif(MODE STREQUAL "exports")
  if(NOT NM)
    set(NM nm)
  endif()
  # Besides the API: the C library names goro interposes (src/hook.c).
  file(STRINGS ${CONSUMER_DIR}/../../cmake/hook-symbols.txt hook_syms REGEX "^[^#]")
  run("nm" ${NM} -D --defined-only ${prefix}/${LIBDIR}/libgoro.so)
  string(REGEX MATCHALL "[^\n]+" lines "${run_out}")
  set(count 0)
  set(bad "")
  foreach(line IN LISTS lines)
    # "ADDRESS TYPE NAME[@VERSION]"
    if(NOT line MATCHES "^[0-9a-fA-F]+ +[A-Za-z] +([^ @]+)")
      continue()
    endif()
    set(sym ${CMAKE_MATCH_1})
    if(sym MATCHES "^goro_[a-z0-9]" AND NOT sym MATCHES "^goro__")
      math(EXPR count "${count} + 1")
    elseif(NOT sym MATCHES "^(_init|_fini|_edata|_end|__bss_start)$" AND NOT sym IN_LIST hook_syms)
      string(APPEND bad " ${sym}")
    endif()
  endforeach()
  if(bad)
    message(FATAL_ERROR "libgoro.so exports more than goro_* functions:${bad}")
  endif()
  if(count LESS 50)
    message(FATAL_ERROR "libgoro.so exports only ${count} goro_* symbols:\n${run_out}")
  endif()
  message(STATUS "libgoro.so: ${count} goro_* symbols, nothing else")
else()
  message(FATAL_ERROR "MODE must be cmake, pkgconfig or exports")
endif()
