// FLEETBAN_REQUIRE_POSTGRES(): a GoogleTest test that needs a real PostgreSQL server skips where
// its programs are missing (make installs Debian's postgresql). Apart from postgres_server.hpp so
// that the benchmarks can start a server without linking GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include "postgres_server.hpp"

#define FLEETBAN_REQUIRE_POSTGRES()                                                                   \
  do {                                                                                                \
    if (::fleetban::testing::postgres_bin_dir().empty())                                              \
      GTEST_SKIP() << "PostgreSQL's server programs are missing (make installs Debian's postgresql)"; \
  } while (false)
