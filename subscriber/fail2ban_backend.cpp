#include "subscriber/fail2ban_backend.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <set>

namespace fleetban::subscriber {

namespace {

// Fail2Ban takes about 0.1 s per call whatever its size; a few hundred addresses keep each call
// well inside its command timeout and the command line short.
constexpr std::size_t kBatchSize = 500;
constexpr auto kClientTimeout = std::chrono::seconds(60);

}  // namespace

Fail2banBackend::Fail2banBackend(CommandTemplate client, std::string jail)
    : client_(std::move(client)), jail_(std::move(jail)) {}

std::vector<std::string> Fail2banBackend::run_batched(const std::string& verb,
                                                      const std::vector<std::string>& addresses) {
  std::vector<std::string> failed;
  for (std::size_t start = 0; start < addresses.size(); start += kBatchSize) {
    auto end = std::min(addresses.size(), start + kBatchSize);
    std::vector<std::string> argv = client_.words();
    argv.insert(argv.end(), {"set", jail_, verb});
    argv.insert(argv.end(), addresses.begin() + static_cast<std::ptrdiff_t>(start),
                addresses.begin() + static_cast<std::ptrdiff_t>(end));
    auto result = run_command(argv, kClientTimeout, CaptureOutput::yes);
    if (result.exit_code != 0) {
      spdlog::error("fail2ban_client_failed verb={} jail={} addresses={} exit={} timed_out={} error=\"{}\"", verb,
                    jail_, end - start, result.exit_code, result.timed_out, result.error);
      failed.insert(failed.end(), addresses.begin() + static_cast<std::ptrdiff_t>(start),
                    addresses.begin() + static_cast<std::ptrdiff_t>(end));
    } else {
      spdlog::info("fail2ban_{} jail={} addresses={}", verb, jail_, end - start);
    }
  }
  return failed;
}

std::vector<common::Decision> Fail2banBackend::ban(std::span<const common::Decision> decisions) {
  std::vector<std::string> addresses;
  for (const auto& d : decisions) addresses.push_back(d.prefix.to_string());
  auto failed = run_batched("banip", addresses);
  std::set<std::string> failed_set(failed.begin(), failed.end());
  std::vector<common::Decision> result;
  for (const auto& d : decisions) {
    if (failed_set.contains(d.prefix.to_string())) result.push_back(d);
  }
  return result;
}

std::vector<common::IpPrefix> Fail2banBackend::unban(std::span<const common::IpPrefix> prefixes) {
  std::vector<std::string> addresses;
  for (const auto& p : prefixes) addresses.push_back(p.to_string());
  auto failed = run_batched("unbanip", addresses);
  std::vector<common::IpPrefix> result;
  for (const auto& text : failed) {
    if (auto p = common::IpPrefix::parse(text)) result.push_back(*p);
  }
  return result;
}

std::optional<std::vector<common::IpPrefix>> Fail2banBackend::enforced() {
  std::vector<std::string> argv = client_.words();
  argv.insert(argv.end(), {"get", jail_, "banned"});
  auto result = run_command(argv, kClientTimeout, CaptureOutput::yes);
  if (result.exit_code != 0) {
    spdlog::warn("fail2ban_client_failed verb=banned jail={} exit={} error=\"{}\"", jail_, result.exit_code,
                 result.error);
    return std::nullopt;
  }
  return parse_banned_list(result.output);
}

std::optional<std::vector<common::IpPrefix>> Fail2banBackend::parse_banned_list(std::string_view text) {
  auto open = text.find('[');
  auto close = text.rfind(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  std::vector<common::IpPrefix> prefixes;
  std::string_view body = text.substr(open + 1, close - open - 1);
  while (!body.empty()) {
    auto q1 = body.find('\'');
    if (q1 == std::string_view::npos) break;
    auto q2 = body.find('\'', q1 + 1);
    if (q2 == std::string_view::npos) break;
    if (auto p = common::IpPrefix::parse(body.substr(q1 + 1, q2 - q1 - 1))) prefixes.push_back(*p);
    body.remove_prefix(q2 + 1);
  }
  return prefixes;
}

}  // namespace fleetban::subscriber
