#pragma once
// What the relay sends its hosts while its upstream is silent.
//
// An aggregator's failover is seconds of silence: the HA lease lapses 3 s after the last renewal,
// then the new member loads the state, and the relay's Clone client notices the silence only
// after three missed heartbeats itself. Hosts count missed heartbeats the same way. So without
// this, every host behind every relay gave up on its relay at the same moment as the relay gave
// up on upstream, and moved to the next relay of its list (or took a new snapshot from the same
// one): thousands of reconnects and CURVE handshakes for each failover.
//
// Instead, once upstream is late (no heartbeat or decision for 1.5 s: it sends one every second),
// the relay sends heartbeats of its own, once a second, with its live copy's sequence and
// incarnation: true of what it has sent, so no host takes a snapshot because of them. After 15 s
// of silence it stops: a relay cut off from its upstream for good must not hold its hosts, who
// then move on within 3 s as before.

#include <chrono>

namespace fleetban::relay {

class UpstreamSilence {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kLate = std::chrono::milliseconds(1500);
  static constexpr auto kEvery = std::chrono::seconds(1);
  static constexpr auto kHoldHostsFor = std::chrono::seconds(15);

  enum class Step {
    none,          // upstream is in time, or a heartbeat of the relay's own went out less than kEvery ago
    first,         // send one: upstream just became late (the relay logs it)
    send,          // send one: still late
    stop_holding,  // silent for kHoldHostsFor: nothing more until upstream speaks (the relay logs it)
  };

  // Called every loop turn; `last_heard`: when upstream's last heartbeat or decision came.
  Step step(Clock::time_point now, Clock::time_point last_heard) {
    const auto silent = now - last_heard;
    if (silent < kLate) {
      holding_ = false;
      gave_up_ = false;
      return Step::none;
    }
    if (silent >= kHoldHostsFor) {
      if (gave_up_ || !holding_) return Step::none;
      gave_up_ = true;
      return Step::stop_holding;
    }
    if (holding_ && now - last_sent_ < kEvery) return Step::none;
    last_sent_ = now;
    if (holding_) return Step::send;
    holding_ = true;
    return Step::first;
  }

 private:
  bool holding_ = false;  // heartbeats of the relay's own are going out for this silence
  bool gave_up_ = false;  // this silence outlasted kHoldHostsFor
  Clock::time_point last_sent_{};
};

}  // namespace fleetban::relay
