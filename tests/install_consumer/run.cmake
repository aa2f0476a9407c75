# run.cmake - the install_consumer and install_pkgconfig ctest tests.
#   cmake -DMODE=cmake|pkgconfig -DGORO_BUILD_DIR=... -DCONFIG=... -DLIBDIR=lib
#         -DCONSUMER_DIR=... -DWORK_DIR=... -DC_COMPILER=... -DGENERATOR=...
#         -P run.cmake
# Installs the build tree into WORK_DIR/prefix, builds the consumer against
# it and runs it; every step must succeed and each program must print "ok".
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
else()
  message(FATAL_ERROR "MODE must be cmake or pkgconfig")
endif()
