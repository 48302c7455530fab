#pragma once
// Leadership of an HA group (aggregators sharing one PostgreSQL state): the one row of the `lease`
// table (postgres_store.cpp makes it) says which member is active, since when, and until when,
// with a fencing epoch that grows by one at every takeover. PostgreSQL's clock alone decides when a
// lease has lapsed, so members' clocks need not agree. The active member renews every kRenewEvery
// for kTerm; a waiting member takes the lease once it has lapsed (epoch + 1). Every commit of the
// active member checks the epoch in its own transaction (PostgresStore::fence), so a member that
// lost the lease while paused or cut off can never commit, ack or broadcast again. Its own
// connection, used by one thread at a time: the loop's, or a LeaseKeeper's while the loop loads the
// state (aggregator/lease_keeper.hpp).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "aggregator/pg_connection.hpp"
#include "common/event.hpp"

namespace fleetban::aggregator {

class Lease {
 public:
  // A takeover comes kTerm after the active member's last renewal (bench P7: the last ack of a
  // member killed -9 to the first ack of the next, 3-4 s with these; 5.5 s with a term of 5 s and
  // a poll of 0.5 s, over the 5 s target). The active member renews from its loop, between
  // turns, so a turn longer than kTerm - kRenewEvery (2.5 s) costs it the lease: a commit that long
  // makes it step down, and another member carries on; nothing acked is lost either way. The two
  // long pieces of work renew on their own (lease_keeper.hpp): loading the state, from a
  // LeaseKeeper's thread, and a snapshot's walk of the state, as it goes.
  static constexpr std::chrono::seconds kTerm{3};
  static constexpr std::chrono::milliseconds kRenewEvery{500};
  static constexpr std::chrono::milliseconds kPollEvery{200};  // how often a waiting member looks

  // Connects (throws RuntimeError naming the URL without its password); `member` names this
  // member in the lease row and in logs ("HOST:PID").
  Lease(const std::string& url, std::string member);

  struct Holder {
    std::int64_t epoch = 0;
    std::string member;  // "" before anyone took it
    common::UnixSeconds since{};
    bool lapsed = true;
  };
  // Who holds the lease now (read on PostgreSQL's clock).
  Holder holder();
  // Takes the lease if it has lapsed; returns true once this member holds it (epoch() is then the
  // new epoch). A member holding a lease that has not lapsed keeps it: false.
  bool try_take();

  // For the active member, every loop turn: renews once kRenewEvery has passed since the last
  // renewal. Throws LeadershipLost when the epoch moved on, or when no renewal succeeded within
  // kTerm (the database unreachable: another member may take over by now).
  void keep();
  // Throws LeadershipLost unless a renewal succeeded less than kTerm ago (measured from when it was
  // sent, on this machine's monotonic clock, which runs on while the process is stopped): checked
  // before anything is broadcast or acked, renewing first if it is due.
  void check();

  // After a clean stop (the last commit made): lets the lease lapse now, so a waiting member takes
  // over at its next poll rather than after kTerm. Errors are logged only.
  void release() noexcept;

  std::int64_t epoch() const { return epoch_; }
  common::UnixSeconds since() const { return since_; }
  const std::string& member() const { return member_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool renew();  // true when renewed; false when the database could not be reached

  PgConnection db_;
  std::string member_;
  std::int64_t epoch_ = 0;
  common::UnixSeconds since_{};
  Clock::time_point renewed_at_{};  // when the last successful renewal was sent
  Clock::time_point next_renewal_{};
};

// "HOSTNAME:PID": how this process names itself in the lease.
std::string this_member();

}  // namespace fleetban::aggregator
