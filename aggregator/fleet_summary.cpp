#include "aggregator/fleet_summary.hpp"

#include <algorithm>

#include "aggregator/fleet_state.hpp"
#include "aggregator/geoip.hpp"

namespace fleetban::aggregator {
namespace {

constexpr std::int64_t kHourSeconds = 3600;
constexpr std::int64_t kDaySeconds = 86400;

// Whole periods since the epoch, rounding down also before it.
std::int64_t period_of(common::UnixSeconds at, std::int64_t length) {
  std::int64_t t = common::to_unix(at);
  return t >= 0 ? t / length : -((-t + length - 1) / length);
}

template <std::size_t N, typename Bucket>
void add_to(std::array<Bucket, N>& ring, std::int64_t period, std::uint64_t count) {
  auto& bucket = ring[static_cast<std::size_t>(((period % std::int64_t{N}) + std::int64_t{N}) % std::int64_t{N})];
  if (bucket.period > period) return;  // the clock stepped back past the ring's round: too old to show
  if (bucket.period != period) bucket = {period, 0};
  bucket.count += count;
}

template <std::size_t N, typename Bucket>
std::array<std::uint64_t, N> read_ring(const std::array<Bucket, N>& ring, std::int64_t last) {
  std::array<std::uint64_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    std::int64_t period = last - static_cast<std::int64_t>(N - 1 - i);
    const auto& bucket =
        ring[static_cast<std::size_t>(((period % std::int64_t{N}) + std::int64_t{N}) % std::int64_t{N})];
    out[i] = bucket.period == period ? bucket.count : 0;
  }
  return out;
}

}  // namespace

void ActivityRing::add(common::UnixSeconds at, std::uint64_t bans) {
  if (bans == 0) return;
  add_to(hours_, period_of(at, kHourSeconds), bans);
  add_to(days_, period_of(at, kDaySeconds), bans);
}

std::array<std::uint64_t, ActivityRing::kHours> ActivityRing::hourly(common::UnixSeconds now) const {
  return read_ring(hours_, period_of(now, kHourSeconds));
}

std::array<std::uint64_t, ActivityRing::kDays> ActivityRing::daily(common::UnixSeconds now) const {
  return read_ring(days_, period_of(now, kDaySeconds));
}

void TopCounter::add(const std::string& name) {
  ++counts_[name];
  if (counts_.size() >= 2 * kKept) reduce();
}

void TopCounter::reduce() {
  std::vector<std::uint64_t> values;
  values.reserve(counts_.size());
  for (const auto& [name, count] : counts_) values.push_back(count);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(kKept), values.end(), std::greater<>());
  const std::uint64_t cut = values[kKept];
  for (auto it = counts_.begin(); it != counts_.end();) {
    it->second -= std::min(it->second, cut);
    it = it->second == 0 ? counts_.erase(it) : std::next(it);
  }
  approximate_ = true;
}

std::vector<TopCounter::Entry> TopCounter::top(std::size_t n) const {
  std::vector<Entry> all;
  all.reserve(counts_.size());
  for (const auto& [name, count] : counts_) all.push_back({name, count});
  auto heavier = [](const Entry& a, const Entry& b) {
    return a.count != b.count ? a.count > b.count : a.name < b.name;
  };
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), heavier);
  all.resize(n);
  return all;
}

void SummaryKeeper::step(const FleetState& state, const GeoIp* geoip, common::UnixSeconds now) {
  const std::uint64_t opened = state.bans_opened();
  // A state reloaded after a failed commit counts from zero again.
  if (bans_seen_ && opened >= *bans_seen_) activity_.add(now, opened - *bans_seen_);
  bans_seen_ = opened;

  bool wanted = false, quick = false;
  {
    std::lock_guard lock(mutex_);
    state_sequence_ = state.sequence();
    wanted = std::chrono::steady_clock::now() < wanted_until_;
    quick = quick_;
  }
  if (!walk_ && wanted && (!walked_once_ || state.sequence() != walked_sequence_) &&
      (!walked_once_ || quick || now - last_start_ >= kMinInterval)) {
    // Not emplace(): clang (the fuzz build) finds a nested struct with member initializers not
    // default-constructible inside its enclosing class.
    walk_.emplace(Walk{});
    walk_->summary.sequence = state.sequence();
    walk_->summary.geo = geoip != nullptr && geoip->enabled();
    walked_sequence_ = state.sequence();
    last_start_ = now;
    walk_turns_ = 0;
  }
  if (walk_) walk_on(state, geoip, now);
}

void SummaryKeeper::walk_on(const FleetState& state, const GeoIp* geoip, common::UnixSeconds now) {
  const RecordTable& table = state.records();
  Walk& walk = *walk_;
  FleetSummary& s = walk.summary;
  ++walk_turns_;
  const RecordIndex end = table.end();
  std::size_t looked = 0;
  for (; walk.next < end && looked < kSweepChunk; ++walk.next) {
    const RecordIndex i = walk.next;
    if (!table.in_use(i)) continue;
    ++looked;
    if (!table.active(i)) {
      ++s.ended;
      continue;
    }
    const common::Decision d = table.decision(i);
    ++s.active;
    if (d.permanent()) ++s.permanent;
    for (const auto& jail : d.jails) walk.jails.add(jail);
    for (const auto& reporter : d.reporters) walk.reporters.add(reporter);
    const bool v4 = d.prefix.family() == common::Family::v4;
    (v4 ? walk.v4 : walk.v6).add(d.prefix.truncated(v4 ? 24 : 48).to_string());
    if (s.geo) {
      common::Geo geo = geoip->lookup(d.prefix);
      walk.countries.add(country_name(geo));
      walk.networks.add(network_name(geo));
    }
  }
  if (walk.next < end) return;
  // Records added behind the walk since it started are in the next one.
  s.made_at = now;
  s.jails = walk.jails.top(FleetSummary::kTop);
  s.reporters = walk.reporters.top(FleetSummary::kTop);
  s.networks_v4 = walk.v4.top(FleetSummary::kTop);
  s.networks_v6 = walk.v6.top(FleetSummary::kTop);
  s.countries = walk.countries.top(FleetSummary::kTop);
  s.as_networks = walk.networks.top(FleetSummary::kTop);
  for (const auto* counter : {&walk.jails, &walk.reporters, &walk.v4, &walk.v6, &walk.countries, &walk.networks}) {
    s.approximate = s.approximate || counter->approximate();
  }
  s.activity = activity_;
  auto done = std::make_shared<const FleetSummary>(std::move(s));
  walk_.reset();
  walked_once_ = true;
  {
    std::lock_guard lock(mutex_);
    latest_ = std::move(done);
    quick_ = walk_turns_ == 1;
  }
  published_.notify_all();
}

void SummaryKeeper::want() {
  std::lock_guard lock(mutex_);
  wanted_until_ = std::chrono::steady_clock::now() + kWantedFor;
}

std::shared_ptr<const FleetSummary> SummaryKeeper::latest(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  wanted_until_ = std::chrono::steady_clock::now() + kWantedFor;
  if (latest_ && (latest_->sequence == state_sequence_ || !quick_)) return latest_;
  const std::uint64_t asked_at = state_sequence_;
  published_.wait_for(lock, wait, [&] { return latest_ && latest_->sequence >= asked_at; });
  return latest_;
}

}  // namespace fleetban::aggregator
