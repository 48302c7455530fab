#pragma once
// The counters the serving parts (admission, the broadcast channel, the snapshot server) keep:
// written by the service loop, read by the HTTP thread. Plain atomics: no lock on the hot path.
// The aggregator's Metrics holds these and adds its own.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace fleetban::server {

// Why input was dropped or refused; the label values of fleetban_rejected_input_total.
// own_link: a ban of loopback, of the aggregator's own address or of a fleet member's address.
enum class RejectReason {
  malformed,
  frames,
  identity,
  not_operator,
  rate_limited,
  allowlisted,
  prefix_too_short,
  state_full,  // the record table holds as many records as it can
  own_link,
};
inline constexpr std::array kRejectReasonNames{
    std::string_view{"malformed"},        std::string_view{"frames"},       std::string_view{"identity"},
    std::string_view{"not_operator"},     std::string_view{"rate_limited"}, std::string_view{"allowlisted"},
    std::string_view{"prefix_too_short"}, std::string_view{"state_full"},   std::string_view{"own_link"}};

struct ServerMetrics {
  std::array<std::atomic<std::uint64_t>, kRejectReasonNames.size()> rejected{};
  std::atomic<std::uint64_t> subscribers{0};  // connections on the broadcast socket
  std::atomic<std::uint64_t> snapshots_served{0};

  void count_rejected(RejectReason reason) {
    rejected[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace fleetban::server
