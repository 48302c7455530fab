#include "common/config.hpp"

#include <toml++/toml.h>
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
    case ValueType::string_list: {
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

void read_text(std::span<const ConfigKey> table, std::string_view text, const std::string& source,
               ConfigValues& values) {
  toml::table root;
  try {
    root = toml::parse(text, source);
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

ConfigValues defaults(std::span<const ConfigKey> table) {
  ConfigValues values;
  for (const ConfigKey& key : table) {
    auto value = parse_flag_value(key.type, key.default_value);
    if (!value) throw std::logic_error("bad default in config table for " + std::string(key.name));
    values.set(std::string(key.name), std::move(*value), "default of '" + std::string(key.name) + "'");
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
  ConfigValues values = defaults(table);
  read_text(table, toml_text, source, values);
  apply_flags(table, flags, values);
  return values;
}

ConfigValues load_config(std::span<const ConfigKey> table, const std::optional<std::filesystem::path>& file,
                         const FlagOverrides& flags) {
  if (!file) {
    ConfigValues values = defaults(table);
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
