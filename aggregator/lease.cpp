#include "aggregator/lease.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "aggregator/state_store.hpp"
#include "common/errors.hpp"

namespace fleetban::aggregator {

namespace {

// A taker waits at most this long behind the active member's commit (which holds the lease row
// FOR SHARE); then it looks again at its next poll.
const std::vector<std::string> kSessionSettings = {
    "SET lock_timeout = '2s'",
    "SET idle_in_transaction_session_timeout = '" + std::to_string(Lease::kTerm.count()) + "s'"};

const std::string kTermSql = "interval '" + std::to_string(Lease::kTerm.count()) + " seconds'";

}  // namespace

std::string this_member() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(getpid());
}

Lease::Lease(const std::string& url, std::string member) : db_(url, kSessionSettings), member_(std::move(member)) {}

Lease::Holder Lease::holder() {
  db_.reconnect_if_broken();
  auto row = db_.exec(
      "SELECT epoch, convert_to(holder, 'UTF8'), extract(epoch FROM since)::bigint, "
      "(expires_at < clock_timestamp())::int FROM lease WHERE id = 1",
      "cannot read the lease");
  Holder holder;
  if (row.rows() != 1) return holder;
  holder.epoch = row.integer(0, 0);
  holder.member = std::string(row.bytes(0, 1));
  holder.since = common::from_unix(row.integer(0, 2));
  holder.lapsed = row.integer(0, 3) != 0;
  return holder;
}

bool Lease::try_take() {
  db_.reconnect_if_broken();
  const auto sent = Clock::now();
  PgParams params;
  params.bytes(member_);
  auto taken = db_.exec(
      "UPDATE lease SET epoch = epoch + 1, holder = convert_from($1, 'UTF8'), since = clock_timestamp(), "
      "expires_at = clock_timestamp() + " +
          kTermSql +
          " WHERE id = 1 AND expires_at < clock_timestamp() RETURNING epoch, extract(epoch FROM since)::bigint",
      params, "cannot take the lease");
  if (taken.rows() != 1) return false;
  epoch_ = taken.integer(0, 0);
  since_ = common::from_unix(taken.integer(0, 1));
  renewed_at_ = sent;
  next_renewal_ = sent + kRenewEvery;
  return true;
}

bool Lease::renew() {
  const auto sent = Clock::now();
  try {
    db_.reconnect_if_broken();
    PgParams params;
    params.integer(epoch_);
    auto renewed = db_.exec("UPDATE lease SET expires_at = clock_timestamp() + " + kTermSql +
                                " WHERE id = 1 AND epoch = $1 AND expires_at >= clock_timestamp()",
                            params, "cannot renew the lease");
    if (renewed.affected() != 1) {
      throw LeadershipLost("state \"" + db_.name() + "\": the lease of epoch " + std::to_string(epoch_) +
                           " lapsed or another member took it over");
    }
  } catch (const LeadershipLost&) {
    throw;
  } catch (const common::RuntimeError& e) {
    spdlog::warn("lease_not_renewed epoch={} error=\"{}\"", epoch_, e.what());
    next_renewal_ = Clock::now() + kRenewEvery / 4;
    return false;
  }
  renewed_at_ = sent;
  next_renewal_ = sent + kRenewEvery;
  return true;
}

void Lease::keep() {
  if (Clock::now() >= next_renewal_) renew();
  if (Clock::now() - renewed_at_ >= kTerm) {
    throw LeadershipLost("state \"" + db_.name() + "\": the lease of epoch " + std::to_string(epoch_) +
                         " could not be renewed for " + std::to_string(kTerm.count()) + " s");
  }
}

void Lease::release() noexcept {
  try {
    PgParams params;
    params.integer(epoch_);
    db_.exec("UPDATE lease SET expires_at = clock_timestamp() WHERE id = 1 AND epoch = $1", params,
             "cannot release the lease");
  } catch (const std::exception& e) {
    spdlog::warn("lease_not_released epoch={} error=\"{}\"", epoch_, e.what());
  }
}

void Lease::check() {
  // A renewal that is more than due (the process was stopped, or a turn was slow) is made first.
  if (Clock::now() - renewed_at_ >= kRenewEvery * 2) renew();
  keep();
}

}  // namespace fleetban::aggregator
