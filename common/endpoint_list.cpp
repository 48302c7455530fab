#include "common/endpoint_list.hpp"

#include <optional>

#include "common/poll.hpp"

namespace fleetban::common {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One endpoint being tried: its DEALER, and whether the event is on its way there (with
// ZMQ_IMMEDIATE a send fails until the connection is up, so it is retried).
struct Attempt {
  zmq::socket_t ingest;
  std::size_t endpoint;
  bool sent = false;
};

// The ack of `id` among the replies waiting on `socket`; other replies are skipped.
std::optional<Ack> ack_waiting(zmq::socket_t& socket, const EventId& id) {
  zmq::message_t message;
  while (socket.recv(message, zmq::recv_flags::dontwait)) {
    auto reply = decode_reply(message.to_string_view());
    if (!reply) continue;
    if (auto* ack = std::get_if<Ack>(&*reply); ack != nullptr && ack->event_id == id) return *ack;
  }
  return std::nullopt;
}

}  // namespace

Expected<AckedBy> send_event_to_any(const ClientSockets& sockets, const std::vector<std::string>& endpoints,
                                    std::size_t first, const Event& event, milliseconds timeout) {
  const std::size_t n = endpoints.size();
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  // When the k-th endpoint's turn comes.
  auto turn = [&](std::size_t k) {
    return start + timeout * static_cast<milliseconds::rep>(k) / static_cast<milliseconds::rep>(n);
  };
  const std::string frame = encode(Request{event});
  std::vector<Attempt> attempts;
  attempts.reserve(n);
  std::vector<zmq::pollitem_t> items;
  bool any_sent = false;
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    while (attempts.size() < n && now >= turn(attempts.size())) {
      const std::size_t endpoint = (first + attempts.size()) % n;
      attempts.push_back(Attempt{sockets.ingest(endpoints[endpoint]), endpoint});
    }
    bool waiting_to_send = false;
    items.clear();
    for (Attempt& attempt : attempts) {
      if (!attempt.sent) attempt.sent = attempt.ingest.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
      any_sent = any_sent || attempt.sent;
      waiting_to_send = waiting_to_send || !attempt.sent;
      items.push_back(
          zmq::pollitem_t{attempt.ingest.handle(), 0, static_cast<short>(attempt.sent ? ZMQ_POLLIN : 0), 0});
    }
    // Until the next turn or the deadline; a connection still coming up is looked at every 5 ms.
    auto until = attempts.size() < n ? std::min(turn(attempts.size()), deadline) : deadline;
    auto wait = std::chrono::duration_cast<milliseconds>(until - now) + milliseconds(1);
    if (waiting_to_send) wait = std::min(wait, milliseconds(5));
    poll_for(items.data(), items.size(), wait);
    for (std::size_t i = 0; i < attempts.size(); ++i) {
      if ((items[i].revents & ZMQ_POLLIN) == 0) continue;
      if (auto ack = ack_waiting(attempts[i].ingest, event.id)) {
        return AckedBy{std::move(*ack), attempts[i].endpoint, std::move(attempts[i].ingest)};
      }
    }
  }
  return Failure{any_sent ? "no ack from any aggregator" : "no aggregator reachable"};
}

}  // namespace fleetban::common
