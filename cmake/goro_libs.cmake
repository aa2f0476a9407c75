# goro_libs.cmake - the C client libraries that the library tests, examples
# and benchmarks drive against real servers (scripts/servers.sh):
#
#   hiredis  -> target PkgConfig::GORO_HIREDIS  (Debian: libhiredis-dev)
#   libpq    -> target PkgConfig::GORO_LIBPQ    (Debian: libpq-dev)
#   libcurl  -> target PkgConfig::GORO_LIBCURL  (Debian: libcurl4-openssl-dev)
#
# Found through pkg-config; each sets GORO_HAVE_<NAME> (HIREDIS, LIBPQ,
# LIBCURL).  A missing one is reported once and what needs it is not built
# (its tests and examples are then absent from ctest, not failed).  Never
# when cross compiling: the target's sysroot does not carry them.
# scripts/deps.sh installs all three (GORO_DEPS_LIBS).
#
# GORO_LIBS_SERVERS_FILE is where the ctest fixture libs_servers
# (tests/CMakeLists.txt) has scripts/servers.sh write the servers' addresses.
set(GORO_LIBS_SERVERS_FILE ${PROJECT_BINARY_DIR}/libs_servers.env)
set(GORO_HAVE_HIREDIS OFF)
set(GORO_HAVE_LIBPQ OFF)
set(GORO_HAVE_LIBCURL OFF)
if(CMAKE_CROSSCOMPILING)
  message(STATUS "goro: cross compiling: the hiredis, libpq and libcurl tests, examples and "
                 "benchmarks are not built")
  return()
endif()
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(STATUS "goro: no pkg-config: the hiredis, libpq and libcurl tests, examples and "
                 "benchmarks are not built (Debian: apt-get install pkg-config)")
  return()
endif()
foreach(_goro_lib HIREDIS:hiredis:libhiredis-dev LIBPQ:libpq:libpq-dev
                  LIBCURL:libcurl:libcurl4-openssl-dev)
  string(REPLACE ":" ";" _goro_parts ${_goro_lib})
  list(GET _goro_parts 0 _goro_var)
  list(GET _goro_parts 1 _goro_module)
  list(GET _goro_parts 2 _goro_deb)
  pkg_check_modules(GORO_${_goro_var} QUIET IMPORTED_TARGET ${_goro_module})
  if(TARGET PkgConfig::GORO_${_goro_var})
    set(GORO_HAVE_${_goro_var} ON)
  else()
    message(STATUS "goro: ${_goro_module} not found (Debian: ${_goro_deb}; scripts/deps.sh "
                   "installs it): its tests, examples and benchmarks are skipped")
  endif()
endforeach()
