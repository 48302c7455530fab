#pragma once
// Config as a table: one table of keys (name, type, default, help) per program family drives the
// TOML reader, the command-line flags (`some_key` is also `--some-key VALUE`) and `--help`.
// Typed configs (host_config.hpp, aggregator_config.hpp) are built from the values read here.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/ip_prefix.hpp"

namespace fleetban::common {

// string_or_list: one string, or a non-empty list of them (in TOML); its value is always a list, and
// as a flag (or default) it is written with commas, like string_list.
enum class ValueType { string, integer, number, boolean, string_list, string_or_list };

struct ConfigKey {
  std::string_view name;  // "timeout_ms", or "enforce.backend" for a key in [enforce]
  ValueType type;
  std::string_view default_value;  // in flag syntax: "500", "true", "a,b" for a list; "" for empty
  std::string_view help;
};

using ConfigValue = std::variant<std::string, std::int64_t, double, bool, std::vector<std::string>>;

// The flag of a key: "enforce.backend" -> "--backend", "timeout_ms" -> "--timeout-ms".
std::string flag_for(std::string_view key_name);

// Flag values as given on the command line, by key name; they win over the file.
using FlagOverrides = std::map<std::string, std::string, std::less<>>;

class ConfigValues {
 public:
  const std::string& string(std::string_view name) const;
  std::int64_t integer(std::string_view name) const;
  double number(std::string_view name) const;
  bool boolean(std::string_view name) const;
  const std::vector<std::string>& string_list(std::string_view name) const;

  // Where a key's value came from, for error messages: "host.toml: key 'x'", "flag --x", "default of 'x'".
  std::string origin(std::string_view name) const;

  void set(std::string name, ConfigValue value, std::string origin);

 private:
  const ConfigValue& at(std::string_view name) const;
  std::map<std::string, std::pair<ConfigValue, std::string>, std::less<>> values_;
};

// Reads `file` (if given) and the flags against `table`. An unknown key, a wrong type or a flag
// value that does not parse throws UsageError naming the key and the file or flag.
ConfigValues load_config(std::span<const ConfigKey> table, const std::optional<std::filesystem::path>& file,
                         const FlagOverrides& flags);

// The same for TOML text already in memory; `source` names it in messages (the fuzzer uses this).
ConfigValues load_config_text(std::span<const ConfigKey> table, std::string_view toml_text, const std::string& source,
                              const FlagOverrides& flags);

// A list key's entries as prefixes; throws UsageError naming the key and the entry that does not parse.
std::vector<IpPrefix> prefix_list(const ConfigValues& values, std::string_view key);

// Who uses an endpoint: a client connects to it (and may name a source, "tcp://SRC:0;HOST:PORT"),
// the aggregator binds it (and may name every interface, "tcp://*:PORT").
enum class EndpointUse { connect, bind };

// Why `text` is not a ZeroMQ endpoint fleetban can use, or nullopt when it is one:
// tcp://HOST:PORT (HOST a name, an IPv4 address or [IPv6]; PORT 1 to 65535), ipc://PATH or
// inproc://NAME. libzmq itself would accept more (other transports, port 0); a fleet cannot.
std::optional<std::string> endpoint_problem(std::string_view text, EndpointUse use);

// A string key that must hold such an endpoint; throws UsageError naming where the key came from
// (file and key, or flag) and the value.
const std::string& endpoint(const ConfigValues& values, std::string_view key, EndpointUse use);

// A string_or_list key that holds one endpoint or several, in the order given; throws UsageError
// naming where the key came from and the entry at fault, or that it is not set.
std::vector<std::string> endpoint_list(const ConfigValues& values, std::string_view key, EndpointUse use);

}  // namespace fleetban::common
