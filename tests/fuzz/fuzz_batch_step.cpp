// libFuzzer target: the aggregator's batch step, with no socket in the way. One input is a
// connection's frames (split at each 0xff 0xfe byte pair), sent by an admitted host key and, every
// other input, an operator key. Whatever they hold, the step must not crash or throw, must answer
// no more frames than it took, and every decision it makes must be one every subscriber decodes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aggregator/batch_step.hpp"
#include "common/codec.hpp"

using namespace fleetban;

namespace {

struct Aggregator {
  aggregator::FleetState state{aggregator::Policy{}};
  aggregator::EventIdSet seen;
  aggregator::Metrics metrics;
  server::Admission admission{false, [](const server::PeerIdentity&) { return true; }, 1'000'000};
  aggregator::BatchStep step{state, seen, admission, metrics};
  std::int64_t now = 1'795'650'000;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Aggregator aggregator;
  static std::uint64_t inputs = 0;
  const bool by_operator = (++inputs % 2) == 0;
  const server::Sender sender{server::PeerIdentity{by_operator ? server::PeerRole::operator_ : server::PeerRole::host,
                                                   by_operator ? "alice" : "web-01", std::string(64, 'a')},
                              common::IpPrefix::parse("198.51.100.9")};
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t frames = 0;
  while (frames < 64) {
    auto cut = input.find("\xff\xfe");
    aggregator.step.take(frames++, input.substr(0, cut), sender);
    if (cut == std::string_view::npos) break;
    input.remove_prefix(cut + 2);
  }
  aggregator.now += 7;
  auto batch = aggregator.step.finish(common::from_unix(aggregator.now));
  if (batch.acks.size() > frames || batch.queries.size() > frames) std::abort();
  for (const auto& decision : batch.changes) {
    if (!common::decode_broadcast(common::encode(common::Broadcast{decision}))) std::abort();
  }
  // What the step made is taken as the loop's commit takes it (forgotten records, then changes).
  aggregator.state.take_forgotten([](const common::IpPrefix&) {});
  aggregator.state.take_changes([](const aggregator::FleetRecord&) {});
  return 0;
}
