#include "aggregator/state_store.hpp"

#include "aggregator/pg_connection.hpp"
#include "aggregator/postgres_store.hpp"
#include "aggregator/store.hpp"

namespace fleetban::aggregator {

std::unique_ptr<StateStore> open_state_store(const std::filesystem::path& state) {
  if (is_postgres_url(state.string())) return std::make_unique<PostgresStore>(state.string());
  return std::make_unique<Store>(state);
}

}  // namespace fleetban::aggregator
