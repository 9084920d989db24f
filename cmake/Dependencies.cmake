# Every dependency comes from a Debian package (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(TBB REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
find_package(GTest REQUIRED)

if(GRAPHC_WITH_LLVM)
  find_package(CLI11 CONFIG REQUIRED)
  # LLVM's version file accepts only an exact major.minor, so check the major.
  find_package(LLVM REQUIRED CONFIG PATHS /usr/lib/llvm-19/lib/cmake/llvm NO_DEFAULT_PATH)
  if(NOT LLVM_VERSION_MAJOR EQUAL 19)
    message(FATAL_ERROR "graphc needs LLVM 19 (llvm-19-dev), found ${LLVM_PACKAGE_VERSION}")
  endif()
  message(STATUS "LLVM ${LLVM_PACKAGE_VERSION} from ${LLVM_DIR}")
  # One shared libLLVM, as Debian ships it: links fast and keeps binaries small.
  add_library(graphc_llvm INTERFACE)
  target_include_directories(graphc_llvm SYSTEM INTERFACE ${LLVM_INCLUDE_DIRS})
  target_compile_definitions(graphc_llvm INTERFACE ${LLVM_DEFINITIONS})
  target_link_libraries(graphc_llvm INTERFACE LLVM)
endif()

if(GRAPHC_BENCH AND NOT GRAPHC_SANITIZE AND NOT GRAPHC_FUZZ)
  find_package(benchmark REQUIRED)
endif()
