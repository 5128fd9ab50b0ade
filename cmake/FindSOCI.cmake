# FindSOCI: Debian ships SOCI 4.0.3 without a CMake package config, so we find it ourselves.
#
# Components: sqlite3, postgresql (the backends chatctl links directly, no dlopen loader).
# Defines imported targets SOCI::core, SOCI::sqlite3, SOCI::postgresql and SOCI_VERSION.

find_path(SOCI_INCLUDE_DIR NAMES soci/soci.h)
find_library(SOCI_CORE_LIBRARY NAMES soci_core)

if(SOCI_INCLUDE_DIR AND EXISTS "${SOCI_INCLUDE_DIR}/soci/version.h")
  file(STRINGS "${SOCI_INCLUDE_DIR}/soci/version.h" _soci_ver REGEX "#define SOCI_LIB_VERSION \"")
  string(REGEX REPLACE ".*\"([0-9_]+)\".*" "\\1" _soci_ver "${_soci_ver}")
  string(REPLACE "_" "." SOCI_VERSION "${_soci_ver}")
endif()

set(_soci_required SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY)
foreach(_comp IN LISTS SOCI_FIND_COMPONENTS)
  find_library(SOCI_${_comp}_LIBRARY NAMES soci_${_comp})
  if(SOCI_${_comp}_LIBRARY)
    set(SOCI_${_comp}_FOUND TRUE)
  endif()
  if(SOCI_FIND_REQUIRED_${_comp})
    list(APPEND _soci_required SOCI_${_comp}_LIBRARY)
  endif()
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SOCI
  REQUIRED_VARS ${_soci_required}
  VERSION_VAR SOCI_VERSION
  HANDLE_COMPONENTS)

if(SOCI_FOUND AND NOT TARGET SOCI::core)
  add_library(SOCI::core UNKNOWN IMPORTED)
  set_target_properties(SOCI::core PROPERTIES
    IMPORTED_LOCATION "${SOCI_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${CMAKE_DL_LIBS}")
  if(SOCI_sqlite3_FOUND)
    add_library(SOCI::sqlite3 UNKNOWN IMPORTED)
    set_target_properties(SOCI::sqlite3 PROPERTIES
      IMPORTED_LOCATION "${SOCI_sqlite3_LIBRARY}"
      INTERFACE_LINK_LIBRARIES "SOCI::core;SQLite::SQLite3")
  endif()
  if(SOCI_postgresql_FOUND)
    add_library(SOCI::postgresql UNKNOWN IMPORTED)
    set_target_properties(SOCI::postgresql PROPERTIES
      IMPORTED_LOCATION "${SOCI_postgresql_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${PostgreSQL_INCLUDE_DIRS}"
      INTERFACE_LINK_LIBRARIES "SOCI::core;PostgreSQL::PostgreSQL")
  endif()
endif()
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY SOCI_sqlite3_LIBRARY SOCI_postgresql_LIBRARY)
