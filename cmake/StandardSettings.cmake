# Interface targets every first-party target links: language settings and warnings.
add_library(chatctl_settings INTERFACE)
target_compile_features(chatctl_settings INTERFACE cxx_std_20)

add_library(chatctl_warnings INTERFACE)
target_compile_options(chatctl_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough)
if(CHATCTL_WERROR)
  target_compile_options(chatctl_warnings INTERFACE -Werror)
endif()

string(REPLACE "," ";" _sanitizers "${CHATCTL_SANITIZE}")
if(CHATCTL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CHATCTL_FUZZ needs clang for libFuzzer, not ${CMAKE_CXX_COMPILER_ID}: "
                        "configure a fresh build folder with CC=clang CXX=clang++")
  endif()
  if(NOT CHATCTL_BUILD_TESTS)
    message(FATAL_ERROR "CHATCTL_FUZZ needs CHATCTL_BUILD_TESTS=ON (the fuzz targets live in tests/fuzz)")
  endif()
  # Coverage instrumentation everywhere; the fuzz targets add -fsanitize=fuzzer (libFuzzer's main).
  target_compile_options(chatctl_settings INTERFACE -fsanitize=fuzzer-no-link)
  list(APPEND _sanitizers address undefined)
  list(REMOVE_DUPLICATES _sanitizers)
endif()

if(_sanitizers)
  foreach(_s IN LISTS _sanitizers)
    target_compile_options(chatctl_settings INTERFACE -fsanitize=${_s} -fno-omit-frame-pointer)
    target_link_options(chatctl_settings INTERFACE -fsanitize=${_s})
  endforeach()
  if("undefined" IN_LIST _sanitizers)
    # The vptr check needs the typeinfo of SOCI's internal classes, which libsoci does not export.
    target_compile_options(chatctl_settings INTERFACE -fno-sanitize=vptr)
    target_link_options(chatctl_settings INTERFACE -fno-sanitize=vptr)
  endif()
endif()

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()
