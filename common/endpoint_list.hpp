#pragma once
// What a client does with several ingest endpoints (host.toml's `aggregator` as a list: an HA
// group's members, or relays): a publish sends its event to whichever acks within one timeout,
// `fleetban` asks each in turn. One endpoint stays the plain case (aggregator_client.hpp).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "common/codec.hpp"
#include "common/expected.hpp"
#include "common/socket_factory.hpp"

namespace fleetban::common {

struct AckedBy {
  Ack ack;
  std::size_t endpoint = 0;  // index into the list
  zmq::socket_t ingest;      // the connection that acked, for more requests (the spool drain)
};

// Sends the event to endpoints[first], and to each next one (round robin) when its share of
// `timeout` has passed without an ack: the k-th of n is tried from timeout * k / n on, while the
// earlier ones are still waited for. So a dead first endpoint (nothing listening, or a frozen peer
// that accepts TCP but never acks) leaves the others their time. Sending one event twice is safe:
// the aggregator applies an event id once. A Failure: no ack from any, the event must be spooled.
Expected<AckedBy> send_event_to_any(const ClientSockets& sockets, const std::vector<std::string>& endpoints,
                                    std::size_t first, const Event& event, std::chrono::milliseconds timeout);

// Asks the endpoints in turn, each with an equal share of `timeout`, until one answers:
// `ask(ingest, share)` returns an Expected. The answer and the endpoint that gave it, or a Failure
// naming each endpoint and why it did not answer (a failed handshake, if any, before the timeout).
template <typename T>
struct AnsweredBy {
  T answer;
  std::string endpoint;
};

template <typename Ask>
auto ask_in_turn(const ClientSockets& sockets, const std::vector<std::string>& endpoints,
                 std::chrono::milliseconds timeout, Ask&& ask) {
  using Answer = typename std::invoke_result_t<Ask&, zmq::socket_t&, std::chrono::milliseconds>::value_type;
  const auto share = timeout / static_cast<std::chrono::milliseconds::rep>(std::max<std::size_t>(endpoints.size(), 1));
  std::string why;
  for (const std::string& endpoint : endpoints) {
    zmq::socket_t ingest = sockets.ingest(endpoint);
    auto answer = ask(ingest, share);
    if (answer) return Expected<AnsweredBy<Answer>>(AnsweredBy<Answer>{std::move(*answer), endpoint});
    why += (why.empty() ? "" : "; ") + sockets.handshake_failure().value_or(answer.error()) + " at " + endpoint;
  }
  return Expected<AnsweredBy<Answer>>(Failure{why});
}

}  // namespace fleetban::common
