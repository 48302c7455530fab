# Every dependency is a Debian 12 package; the top-level Makefile installs them.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(SQLite3 REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)  # PostgreSQL state (aggregator/postgres_store.hpp)
pkg_check_modules(MAXMINDDB REQUIRED IMPORTED_TARGET libmaxminddb)  # GeoIP (aggregator/geoip.hpp)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)  # verified HTTP passwords (aggregator/http_access.hpp)

# For fleetban-publish alone (publisher/CMakeLists.txt): Fail2Ban starts it on every ban, and the
# dynamic loader was a third of its CPU. Debian ships libprotobuf.a, and spdlog and fmt can be
# header-only, so they go into the binary instead of being loaded; libzmq stays shared (its krb5
# dependencies have no static libraries). The programs that run for long keep linking shared.
# toml++ is header-only for every program (common/CMakeLists.txt): only config.cpp includes it.
find_library(FLEETBAN_PROTOBUF_STATIC NAMES libprotobuf.a REQUIRED)
add_library(fleetban_builtin_deps INTERFACE)
target_include_directories(fleetban_builtin_deps INTERFACE ${Protobuf_INCLUDE_DIRS})
target_compile_definitions(fleetban_builtin_deps INTERFACE SPDLOG_FMT_EXTERNAL)
target_link_libraries(fleetban_builtin_deps INTERFACE ${FLEETBAN_PROTOBUF_STATIC} fmt::fmt-header-only Threads::Threads)
