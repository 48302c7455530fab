// libFuzzer target: the config reader, with both tables. Bad input must come back as UsageError
// (a message naming the key), never as a crash or any other exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "aggregator/aggregator_config.hpp"
#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/host_config.hpp"

using namespace fleetban;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // The endpoint check takes any text as a value: it says what is wrong, never throws.
  (void)common::endpoint_problem(text, common::EndpointUse::connect);
  (void)common::endpoint_problem(text, common::EndpointUse::bind);
  for (auto table : {common::host_config_keys(), aggregator::aggregator_config_keys()}) {
    try {
      auto values = common::load_config_text(table, text, "fuzz.toml", {});
      // Typed access of every key must agree with the table's types.
      for (const auto& key : table) (void)values.origin(key.name);
      (void)common::prefix_list(
          values, table.data() == common::host_config_keys().data() ? "enforce.allowlist" : "policy.allowlist");
    } catch (const common::UsageError&) {
    }
  }
  return 0;
}
