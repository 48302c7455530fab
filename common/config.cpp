#include "common/config.hpp"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"

namespace fleetban::common {

namespace {

std::string_view type_name(ValueType type) {
  switch (type) {
    case ValueType::string: return "a string";
    case ValueType::integer: return "an integer";
    case ValueType::number: return "a number";
    case ValueType::boolean: return "true or false";
    case ValueType::string_list: return "a list of strings";
    case ValueType::string_or_list: return "a string or a non-empty list of strings";
  }
  return "?";
}

// A value in flag syntax (also the table's defaults); nullopt when it does not parse as `type`.
std::optional<ConfigValue> parse_flag_value(ValueType type, std::string_view text) {
  switch (type) {
    case ValueType::string: return ConfigValue{std::string(text)};
    case ValueType::integer: {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
      return ConfigValue{v};
    }
    case ValueType::number: {
      double v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
      return ConfigValue{v};
    }
    case ValueType::boolean:
      if (text == "true" || text == "1" || text == "yes") return ConfigValue{true};
      if (text == "false" || text == "0" || text == "no") return ConfigValue{false};
      return std::nullopt;
    case ValueType::string_list:
    case ValueType::string_or_list: {
      std::vector<std::string> items;
      std::size_t start = 0;
      while (start < text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        if (comma > start) items.emplace_back(text.substr(start, comma - start));
        start = comma + 1;
      }
      return ConfigValue{std::move(items)};
    }
  }
  return std::nullopt;
}

std::optional<ConfigValue> from_toml(ValueType type, const toml::node& node) {
  switch (type) {
    case ValueType::string:
      if (auto v = node.value_exact<std::string>()) return ConfigValue{*v};
      return std::nullopt;
    case ValueType::integer:
      if (auto v = node.value_exact<std::int64_t>()) return ConfigValue{*v};
      return std::nullopt;
    case ValueType::number:
      if (node.is_floating_point()) return ConfigValue{*node.value_exact<double>()};
      if (auto v = node.value_exact<std::int64_t>()) return ConfigValue{static_cast<double>(*v)};
      return std::nullopt;
    case ValueType::boolean:
      if (auto v = node.value_exact<bool>()) return ConfigValue{*v};
      return std::nullopt;
    case ValueType::string_list: {
      const toml::array* array = node.as_array();
      if (array == nullptr) return std::nullopt;
      std::vector<std::string> items;
      for (const toml::node& item : *array) {
        auto v = item.value_exact<std::string>();
        if (!v) return std::nullopt;
        items.push_back(*v);
      }
      return ConfigValue{std::move(items)};
    }
    case ValueType::string_or_list: {
      if (auto v = node.value_exact<std::string>()) return ConfigValue{std::vector<std::string>{*v}};
      auto list = from_toml(ValueType::string_list, node);
      if (!list || std::get<std::vector<std::string>>(*list).empty()) return std::nullopt;
      return list;
    }
  }
  return std::nullopt;
}

const ConfigKey* find_key(std::span<const ConfigKey> table, std::string_view name) {
  for (const ConfigKey& key : table) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

bool is_section(std::span<const ConfigKey> table, std::string_view section) {
  for (const ConfigKey& key : table) {
    auto dot = key.name.find('.');
    if (dot != std::string_view::npos && key.name.substr(0, dot) == section) return true;
  }
  return false;
}

// toml++ 3.3 (Debian 12) reaches __builtin_unreachable() when it meets most non-ASCII characters
// where it expects whitespace (is_non_ascii_horizontal_whitespace: undefined behaviour, a crash in
// a release build; found by fuzz_config). So toml++ is never shown a non-ASCII byte: in a comment
// each becomes a space, anywhere else the file is refused, naming the line. Whatever this scanner
// makes of malformed text, toml++ sees only ASCII.
std::string ascii_for_toml(std::string_view text, const std::string& source) {
  // What an escape may skip: not a line break (counted below), not a byte checked below.
  auto is_plain_ascii = [](char c) { return c != '\n' && static_cast<unsigned char>(c) < 0x80; };
  std::string ascii(text);
  enum class In { code, comment, basic, literal, multiline_basic, multiline_literal };
  In in = In::code;
  std::size_t line = 1;
  auto at = [&](std::size_t i, std::string_view what) { return text.substr(i, what.size()) == what; };
  // After a closing """ or ''', up to two more quotes still belong to the string (TOML allows them).
  auto close = [&](std::size_t& i, char quote) {
    i += 2;
    for (int extra = 0; extra < 2 && i + 1 < text.size() && text[i + 1] == quote; ++extra) ++i;
    in = In::code;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      // A comment ends here; a one-line string left open is toml++'s error to report.
      if (in == In::comment || in == In::basic || in == In::literal) in = In::code;
      continue;
    }
    switch (in) {
      case In::comment:
        if (static_cast<unsigned char>(c) >= 0x80) ascii[i] = ' ';
        continue;
      default:
        if (static_cast<unsigned char>(c) >= 0x80) {
          throw UsageError(source + ":" + std::to_string(line) +
                           ": a non-ASCII character outside a comment (fleetban's config files are ASCII)");
        }
    }
    switch (in) {
      case In::code:
        if (c == '#') {
          in = In::comment;
        } else if (at(i, R"(""")")) {
          in = In::multiline_basic;
          i += 2;
        } else if (at(i, "'''")) {
          in = In::multiline_literal;
          i += 2;
        } else if (c == '"') {
          in = In::basic;
        } else if (c == '\'') {
          in = In::literal;
        }
        break;
      case In::comment: break;
      case In::basic:
        if (c == '\\' && i + 1 < text.size() && is_plain_ascii(text[i + 1])) {
          ++i;  // an escaped character, a quote among them
        } else if (c == '"') {
          in = In::code;
        }
        break;
      case In::literal:
        if (c == '\'') in = In::code;
        break;
      case In::multiline_basic:
        if (c == '\\' && i + 1 < text.size() && is_plain_ascii(text[i + 1])) {
          ++i;
        } else if (at(i, R"(""")")) {
          close(i, '"');
        }
        break;
      case In::multiline_literal:
        if (at(i, "'''")) close(i, '\'');
        break;
    }
  }
  return ascii;
}

void read_text(std::span<const ConfigKey> table, std::string_view text, const std::string& source,
               ConfigValues& values) {
  const std::string ascii = ascii_for_toml(text, source);
  toml::table root;
  try {
    root = toml::parse(ascii, source);
  } catch (const toml::parse_error& e) {
    throw UsageError(source + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  auto take = [&](const std::string& name, const toml::node& node) {
    const ConfigKey* key = find_key(table, name);
    if (key == nullptr) throw UsageError(source + ": unknown key '" + name + "'");
    auto value = from_toml(key->type, node);
    if (!value) {
      throw UsageError(source + ": key '" + name + "' must be " + std::string(type_name(key->type)));
    }
    values.set(name, std::move(*value), source + ": key '" + name + "'");
  };
  for (const auto& [top_key, node] : root) {
    std::string top(top_key.str());
    if (const toml::table* section = node.as_table()) {
      if (!is_section(table, top)) throw UsageError(source + ": unknown section [" + top + "]");
      for (const auto& [sub_key, sub_node] : *section) take(top + "." + std::string(sub_key.str()), sub_node);
    } else {
      take(top, node);
    }
  }
}

}  // namespace

std::string flag_for(std::string_view key_name) {
  auto dot = key_name.rfind('.');
  std::string flag = "--" + std::string(dot == std::string_view::npos ? key_name : key_name.substr(dot + 1));
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

const ConfigValue& ConfigValues::at(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error("config key not in table: " + std::string(name));
  return it->second.first;
}

const std::string& ConfigValues::string(std::string_view name) const { return std::get<std::string>(at(name)); }
std::int64_t ConfigValues::integer(std::string_view name) const { return std::get<std::int64_t>(at(name)); }
double ConfigValues::number(std::string_view name) const { return std::get<double>(at(name)); }
bool ConfigValues::boolean(std::string_view name) const { return std::get<bool>(at(name)); }
const std::vector<std::string>& ConfigValues::string_list(std::string_view name) const {
  return std::get<std::vector<std::string>>(at(name));
}

std::string ConfigValues::origin(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string(name) : it->second.second;
}

void ConfigValues::set(std::string name, ConfigValue value, std::string origin) {
  values_.insert_or_assign(std::move(name), std::pair{std::move(value), std::move(origin)});
}

std::vector<IpPrefix> prefix_list(const ConfigValues& values, std::string_view key) {
  std::vector<IpPrefix> prefixes;
  for (const std::string& text : values.string_list(key)) {
    auto prefix = IpPrefix::parse(text);
    if (!prefix) throw UsageError(values.origin(key) + ": '" + text + "' is not an IP address or prefix");
    prefixes.push_back(*prefix);
  }
  return prefixes;
}

namespace {

constexpr std::string_view kEndpointForms = "tcp://HOST:PORT, ipc://PATH or inproc://NAME";

bool is_ipv6(std::string_view text) {
  in6_addr unused{};
  return inet_pton(AF_INET6, std::string(text).c_str(), &unused) == 1;
}

// HOST of tcp://HOST:PORT: a name (a host or, to bind, an interface), IPv4, [IPv6] or, where
// allowed, `*` for every interface.
std::optional<std::string> tcp_host_problem(std::string_view host, bool wildcard_allowed) {
  if (host.empty()) return "no host before the port";
  if (host == "*") {
    if (wildcard_allowed) return std::nullopt;
    return "'*' (every interface) can be bound, not connected to";
  }
  if (host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return "'" + std::string(host) + "' has no closing ']'";
    std::string_view inner = host.substr(1, host.size() - 2);
    if (!is_ipv6(inner.substr(0, inner.find('%')))) return "'" + std::string(inner) + "' is not an IPv6 address";
    return std::nullopt;
  }
  if (host.find(':') != std::string_view::npos) {
    if (is_ipv6(host)) return std::nullopt;  // libzmq takes an IPv6 address without brackets too
    return "'" + std::string(host) + "' is not a host: an IPv6 address is written [ADDRESS]";
  }
  bool name_like = std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  });
  if (!name_like) return "'" + std::string(host) + "' is not a host name or address";
  return std::nullopt;
}

// HOST:PORT. `any_port`: 0 or `*` (the system picks) is allowed, as for a connection's source.
std::optional<std::string> tcp_address_problem(std::string_view text, bool wildcard_allowed, bool any_port) {
  if (text.empty()) return "no HOST:PORT";
  auto colon = text.rfind(':');
  auto close = text.rfind(']');
  if (colon == std::string_view::npos || (text.front() == '[' && close != std::string_view::npos && colon < close)) {
    return "no port (tcp://HOST:PORT)";
  }
  if (auto problem = tcp_host_problem(text.substr(0, colon), wildcard_allowed)) return problem;
  std::string_view port = text.substr(colon + 1);
  if (any_port && port == "*") return std::nullopt;
  unsigned number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number > 65535 ||
      (number == 0 && !any_port)) {
    return "the port '" + std::string(port) + "' is not a number from 1 to 65535";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> endpoint_problem(std::string_view text, EndpointUse use) {
  if (text.empty()) return "empty; expected " + std::string(kEndpointForms);
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return "no transport; expected " + std::string(kEndpointForms);
  std::string_view scheme = text.substr(0, scheme_end);
  std::string_view rest = text.substr(scheme_end + 3);
  if (scheme == "ipc" || scheme == "inproc") {
    if (rest.empty()) return "nothing after " + std::string(scheme) + "://";
    return std::nullopt;
  }
  if (scheme != "tcp") {
    return "transport '" + std::string(scheme) + "' is not one fleetban uses; expected " + std::string(kEndpointForms);
  }
  // A connection may name its source first: tcp://SOURCE:PORT;HOST:PORT (libzmq's syntax).
  auto semicolon = rest.find(';');
  if (semicolon != std::string_view::npos) {
    if (use == EndpointUse::bind) return "a source address (SOURCE;HOST:PORT) is for connecting, not binding";
    if (auto problem = tcp_address_problem(rest.substr(0, semicolon), true, true)) return "source: " + *problem;
    rest = rest.substr(semicolon + 1);
  }
  return tcp_address_problem(rest, use == EndpointUse::bind, false);
}

namespace {

// One endpoint of `key`, or a UsageError naming where the key came from and the value.
void check_endpoint(const ConfigValues& values, std::string_view key, const std::string& text, EndpointUse use) {
  if (text.empty()) throw UsageError(values.origin(key) + ": not set; expected " + std::string(kEndpointForms));
  if (auto problem = endpoint_problem(text, use)) {
    throw UsageError(values.origin(key) + ": '" + text + "' is not a ZeroMQ endpoint: " + *problem);
  }
}

}  // namespace

const std::string& endpoint(const ConfigValues& values, std::string_view key, EndpointUse use) {
  const std::string& text = values.string(key);
  check_endpoint(values, key, text, use);
  return text;
}

std::vector<std::string> endpoint_list(const ConfigValues& values, std::string_view key, EndpointUse use) {
  const std::vector<std::string>& list = values.string_list(key);
  if (list.empty()) check_endpoint(values, key, "", use);  // "not set"
  for (const std::string& text : list) check_endpoint(values, key, text, use);
  return list;
}

namespace {

// Every key at its default; `source` names the file that left it out, when one was read.
ConfigValues defaults(std::span<const ConfigKey> table, const std::optional<std::string>& source) {
  ConfigValues values;
  for (const ConfigKey& key : table) {
    auto value = parse_flag_value(key.type, key.default_value);
    if (!value) throw std::logic_error("bad default in config table for " + std::string(key.name));
    // A value a file left out is the file's: "host.toml: key 'x'" tells where to set it.
    std::string origin =
        source ? *source + ": key '" + std::string(key.name) + "'" : "default of '" + std::string(key.name) + "'";
    values.set(std::string(key.name), std::move(*value), std::move(origin));
  }
  return values;
}

void apply_flags(std::span<const ConfigKey> table, const FlagOverrides& flags, ConfigValues& values) {
  for (const auto& [name, text] : flags) {
    const ConfigKey* key = find_key(table, name);
    if (key == nullptr) throw std::logic_error("flag for a key not in the table: " + name);
    auto value = parse_flag_value(key->type, text);
    if (!value) {
      throw UsageError("flag " + flag_for(name) + ": '" + text + "' is not " + std::string(type_name(key->type)));
    }
    values.set(name, std::move(*value), "flag " + flag_for(name));
  }
}

}  // namespace

ConfigValues load_config_text(std::span<const ConfigKey> table, std::string_view toml_text, const std::string& source,
                              const FlagOverrides& flags) {
  ConfigValues values = defaults(table, source);
  read_text(table, toml_text, source, values);
  apply_flags(table, flags, values);
  return values;
}

ConfigValues load_config(std::span<const ConfigKey> table, const std::optional<std::filesystem::path>& file,
                         const FlagOverrides& flags) {
  if (!file) {
    ConfigValues values = defaults(table, std::nullopt);
    apply_flags(table, flags, values);
    return values;
  }
  std::ifstream in(*file);
  if (!in) throw UsageError(file->string() + ": cannot read config file");
  std::stringstream text;
  text << in.rdbuf();
  return load_config_text(table, text.str(), file->string(), flags);
}

}  // namespace fleetban::common
