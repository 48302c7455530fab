// bench_failover (P7): kill -9 of the active aggregator of an HA group under steady publishing
// (issue 12). Two fleetban-aggregator members on one real PostgreSQL server (initdb in a temp
// dir, tests/postgres/postgres_server), `--bans` active bans loaded first, `--subscribers`
// simulated subscribers behind `--relays` relays that follow the group (upstream lists both
// members: docs/OPERATIONS.md's layout for 10,000 hosts), or with `--relays 0` on the active
// member's broadcast, and a steady publisher: a paced stream of ban events on a DEALER to the
// active member, every event unacked for 500 ms sent again to the other member (the same event
// id, so the group applies it once; on a fresh connection, as a new fleetban-publish makes), as
// fleetban-publish does with an endpoint list. Then kill -9 of the active member, and:
// - `P7.gap`: from the last ack of the old leader to the first ack of the new one (target < 5 s;
//   the baseline is the lease's term, before which no member may take over);
// - `P7.lost`: events acked by either member whose ban is not in the new leader's snapshot
//   afterwards (target 0);
// - `P7.resync`: from the kill until every simulated subscriber has a decision of the new leader
//   (a sequence above the one it loaded). Behind relays they stay on their relay, which moves on
//   after three missed heartbeats; on the aggregator they move to the new leader's broadcast once
//   they heard nothing for 3 s, as the Clone client does. Target < 60 s. It also counts the
//   subscribers that saw a heartbeat ahead of their last sequence (at or past what the new leader
//   loaded): a real subscriber takes a snapshot then (decisions committed but never broadcast by
//   the old leader).
//
// Addresses are data only, never contacted: 2001:db8::/32 and 100.64.0.0/10 (bench_address).

#include <fmt/format.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "bench/bench_support.hpp"
#include "bench/event_load.hpp"
#include "bench/simulated_subscribers.hpp"
#include "common/aggregator_client.hpp"
#include "common/codec.hpp"
#include "common/socket_factory.hpp"
#include "postgres_server.hpp"

namespace fleetban::bench {
namespace {

using std::chrono::seconds;

constexpr auto kResendAfter = milliseconds(500);
constexpr auto kMissedHeartbeats = seconds(3);  // the Clone client's kMissedHeartbeats x 1 s
constexpr double kLeaseTermSeconds = 3;         // aggregator/lease.hpp, Lease::kTerm

struct Settings {
  Programs programs;
  int subscribers = 10'000;
  std::uint64_t bans = 100'000;
  // Steady events per second: each is a decision to every subscriber. 10/s is a busy fleet (36,000
  // bans an hour); 10,000 subscribers straight on one aggregator take about 4 decisions a second
  // (P6: 250 ms each), so faster rates there measure a saturated broadcast, not a failover.
  int rate = 10;
  int relays = 2;  // subscribers behind this many relays (0: on the aggregator)
  int before_kill_ms = 5'000;
  int after_ack_ms = 3'000;  // publishing goes on this long after the new leader's first ack
};

// One member of the HA group: its own ports, the group's key pair, state and authorized_dir.
class Member {
 public:
  Member(const Programs& programs, Keys& keys, fs::path dir, const std::string& state)
      : programs_(programs), dir_(dir) {
    fs::create_directories(dir);
    write_file(dir / "aggregator.toml", "ingest = " + toml_string(ingest()) + "\nbroadcast = " +
                                            toml_string(broadcast()) + "\nhttp = \"\"\nstate = " + toml_string(state) +
                                            "\nserver_key = " + toml_string(keys.secret("aggregator").string()) +
                                            "\nauthorized_dir = " + toml_string(keys.authorized_dir().string()) +
                                            "\n[policy]\nmax_events_per_second = 10000000\n");
  }
  std::string ingest() const { return "tcp://127.0.0.1:" + std::to_string(ingest_port_); }
  std::string broadcast() const { return "tcp://127.0.0.1:" + std::to_string(broadcast_port_); }
  void start() {
    process_ = std::make_unique<Process>(std::vector<std::string>{(programs_.bin / "fleetban-aggregator").string(),
                                                                  "--config", (dir_ / "aggregator.toml").string()},
                                         dir_ / "aggregator.log");
  }
  void kill9() {
    ::kill(process_->pid(), SIGKILL);
    process_->wait_for_exit(milliseconds(10'000));
  }
  Process& process() { return *process_; }
  std::string log() const { return read_file(dir_ / "aggregator.log"); }

 private:
  const Programs& programs_;
  fs::path dir_;
  std::uint16_t ingest_port_ = free_tcp_port();
  std::uint16_t broadcast_port_ = free_tcp_port();
  std::unique_ptr<Process> process_;
};

// The steady publisher, on a thread of its own: `rate` ban events a second (addresses from
// `first_index` on), each to the member it believes active, sent again to the other one when
// unacked for kResendAfter. Keeps every acked address and when each member last and first acked.
class SteadyPublisher {
 public:
  SteadyPublisher(Keys& keys, std::vector<std::string> endpoints, int rate, std::uint64_t first_index)
      : keys_(keys), endpoints_(std::move(endpoints)), rate_(rate), next_index_(first_index) {
    thread_ = std::thread([this] { run(); });
  }
  ~SteadyPublisher() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  struct Acks {
    std::optional<Clock::time_point> first, last;
    std::uint64_t count = 0;
  };
  Acks acks_of(std::size_t member) const {
    std::lock_guard lock(mutex_);
    return acks_[member];
  }
  std::set<std::string> acked() const {
    std::lock_guard lock(mutex_);
    return acked_;
  }
  std::uint64_t sent() const { return sent_.load(); }
  std::uint64_t refused() const {
    std::lock_guard lock(mutex_);
    return refused_;
  }
  std::uint64_t unacked() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }

 private:
  struct Pending {
    std::string ip;
    common::Event event;
    Clock::time_point sent;
    std::size_t member;
  };

  void run() {
    zmq::context_t context;
    common::ClientSockets sockets(
        context,
        {.insecure = false, .server_key = keys_.public_key("aggregator"), .client_key = keys_.secret("steady")});
    std::vector<zmq::socket_t> dealers;
    for (const auto& endpoint : endpoints_) dealers.push_back(sockets.ingest(endpoint));
    const auto interval = std::chrono::nanoseconds(1'000'000'000 / rate_);
    auto next_send = Clock::now();
    while (!stop_.load()) {
      const auto now = Clock::now();
      if (now >= next_send) {
        next_send += interval;
        const std::string ip = bench_address(next_index_++);
        common::Event event{.id = common::random_event_id(),
                            .kind = common::EventKind::ban,
                            .prefix = *common::IpPrefix::parse(ip),
                            .jail = "sshd",
                            .host_id = "steady",
                            .bantime = seconds(7 * 86'400),
                            .time = common::now_ms(),
                            .created = common::now_ms()};
        send(dealers, Pending{ip, event, now, current_});
        ++sent_;
      }
      // Unacked too long: to the other member, and it becomes the one new events go to.
      {
        std::lock_guard lock(mutex_);
        for (auto& [key, pending] : pending_) {
          if (now - pending.sent < kResendAfter) continue;
          pending.member = (pending.member + 1) % dealers.size();
          pending.sent = now;
          current_ = pending.member;
          // A publish is a process of its own, connecting afresh each time: a member that has not
          // acked for a while gets a new connection, not the one that has been backing off
          // (socket_factory: up to 5 s between attempts) since it was last refused.
          if (fresh_due(pending.member, now)) dealers[pending.member] = sockets.ingest(endpoints_[pending.member]);
          (void)dealers[pending.member].send(zmq::buffer(common::encode(common::Request{pending.event})),
                                             zmq::send_flags::dontwait);
        }
      }
      std::vector<zmq::pollitem_t> items;
      for (auto& dealer : dealers) items.push_back({dealer.handle(), 0, ZMQ_POLLIN, 0});
      zmq::poll(items.data(), items.size(), milliseconds(1));
      for (std::size_t m = 0; m < dealers.size(); ++m) {
        zmq::message_t frame;
        while (dealers[m].recv(frame, zmq::recv_flags::dontwait)) on_reply(m, frame);
      }
    }
  }

  // Whether member m's connection should be made afresh: no ack from it for a second, and none
  // made in the last kResendAfter. Called with mutex_ held.
  bool fresh_due(std::size_t m, Clock::time_point now) {
    if (acks_[m].last && now - *acks_[m].last < seconds(1)) return false;
    if (now - renewed_[m] < kResendAfter) return false;
    renewed_[m] = now;
    return true;
  }

  void send(std::vector<zmq::socket_t>& dealers, Pending pending) {
    // Unsent (no connection, ZMQ_IMMEDIATE) is the same as unacked: resent after kResendAfter.
    (void)dealers[pending.member].send(zmq::buffer(common::encode(common::Request{pending.event})),
                                       zmq::send_flags::dontwait);
    std::lock_guard lock(mutex_);
    pending_.emplace(std::string(pending.event.id.begin(), pending.event.id.end()), std::move(pending));
  }

  void on_reply(std::size_t member, const zmq::message_t& frame) {
    auto reply = common::decode_reply(frame.to_string_view());
    if (!reply) return;
    auto* ack = std::get_if<common::Ack>(&*reply);
    if (ack == nullptr) return;
    std::lock_guard lock(mutex_);
    auto it = pending_.find(std::string(ack->event_id.begin(), ack->event_id.end()));
    if (it == pending_.end()) return;
    if (ack->outcome != common::AckOutcome::applied && ack->outcome != common::AckOutcome::duplicate) {
      ++refused_;  // the driver stops on it: the measurement would not be of durable events
      pending_.erase(it);
      return;
    }
    const auto now = Clock::now();
    auto& acks = acks_[member];
    if (!acks.first) acks.first = now;
    acks.last = now;
    ++acks.count;
    acked_.insert(it->second.event.prefix.to_string());
    pending_.erase(it);
  }

  Keys& keys_;
  std::vector<std::string> endpoints_;
  int rate_;
  std::uint64_t next_index_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  mutable std::mutex mutex_;
  std::map<std::string, Pending> pending_;  // by event id
  std::vector<Acks> acks_ = std::vector<Acks>(2);
  std::vector<Clock::time_point> renewed_ = std::vector<Clock::time_point>(2);  // connections made afresh
  std::set<std::string> acked_;  // canonical prefixes (IpPrefix::to_string)
  std::uint64_t refused_ = 0;
  std::size_t current_ = 0;
  std::thread thread_;
};

// Waits until a log holds `text`; false at the timeout.
bool wait_for_log(const Member& member, std::string_view text, milliseconds timeout) {
  for (auto deadline = Clock::now() + timeout; Clock::now() < deadline; sleep_for(milliseconds(50))) {
    check_interrupted();
    if (member.log().find(text) != std::string::npos) return true;
  }
  return false;
}

int run_bench(int argc, char** argv) {
  CLI::App app{"P7: kill -9 of the active aggregator of an HA group under steady publishing"};
  Settings settings;
  settings.programs.bench = own_directory();
  fs::path out = "p7.json";
  app.add_option("--bin", settings.programs.bin, "fleetban's programs (build/bin)")->required();
  app.add_option("--out", out, "JSON results");
  app.add_option("--subscribers", settings.subscribers, "simulated subscribers");
  app.add_option("--bans", settings.bans, "active bans loaded before the kill");
  app.add_option("--rate", settings.rate, "steady events per second");
  app.add_option("--relays", settings.relays, "relays the subscribers are behind (0: on the aggregator)");
  app.add_option("--before-kill-ms", settings.before_kill_ms, "steady publishing before the kill");
  CLI11_PARSE(app, argc, argv);

  // Two descriptors per subscriber where the limit allows, else two subscribers per SUB socket.
  const auto limit = raise_fd_limit(static_cast<unsigned long>(2 * settings.subscribers + 1024));
  const int per_socket = 2 * static_cast<unsigned long>(settings.subscribers) + 512 > limit ? 2 : 1;

  TempDir dir;
  testing::PostgresServer postgres(
      std::vector<std::string>{});  // the server's own defaults: fsync and synchronous_commit on
  Keys keys(settings.programs, dir / "keys");
  keys.make("aggregator", false);
  keys.make("steady");
  keys.make("sim");
  keys.make("bench-probe");
  keys.make("relay", false);
  fs::create_directories(keys.authorized_dir() / "relays");
  fs::copy_file(keys.public_key("relay"), keys.authorized_dir() / "relays/relay.pub");
  // Every key before the members start: they read authorized_dir then.
  std::vector<ClientKey> loaders;
  for (unsigned t = 0; t < 4; ++t) {
    const std::string name = "load-" + std::to_string(t);
    keys.make(name);
    loaders.push_back({name, Keys::z85(keys.public_key(name)), Keys::z85(keys.secret(name))});
  }
  Member a(settings.programs, keys, dir / "member-a", postgres.url());
  Member b(settings.programs, keys, dir / "member-b", postgres.url());
  a.start();
  if (!wait_for_status(a.ingest(), keys.public_key("aggregator"), keys.secret("bench-probe"), milliseconds(60'000),
                       &a.process())) {
    throw std::runtime_error("member A did not answer a status request; its log:\n" + a.log());
  }
  b.start();
  if (!wait_for_log(b, "ha_waiting", milliseconds(60'000))) {
    throw std::runtime_error("member B did not wait for the lease; its log:\n" + b.log());
  }

  // The bans the new leader must load, and every subscriber must keep.
  LoadOptions load;
  load.endpoint = a.ingest();
  load.server_public = Keys::z85(keys.public_key("aggregator"));
  load.window = 256;
  load.count = settings.bans;
  load.bantime = 7 * 86'400;
  load.clients = loaders;
  LoadResult loaded = run_event_load(load);
  fmt::print("P7: {} bans loaded at {:.0f} events/s\n", loaded.applied,
             static_cast<double>(loaded.applied) / std::max(loaded.seconds, 1e-9));

  // Through relays (the 10,000-host layout of docs/OPERATIONS.md) each relay follows the group
  // (upstream lists both members) and the subscribers stay on their relay; without, they are on
  // the active member's broadcast and move to the other's after 3 s of silence.
  std::vector<RelayProcess> relays;
  std::vector<std::string> subscribed;
  for (int r = 0; r < settings.relays; ++r) {
    relays.push_back(start_relay(settings.programs, keys, {a.ingest(), b.ingest()}, {a.broadcast(), b.broadcast()},
                                 dir / fmt::format("relay{}", r), {"sim", "bench-probe"}));
    subscribed.push_back(relays.back().broadcast);
  }
  if (relays.empty()) subscribed.push_back(a.broadcast());
  SimulatedSubscribers subscribers(settings.subscribers, per_socket, subscribed,
                                   {Keys::z85(keys.public_key(relays.empty() ? "aggregator" : "relay")),
                                    Keys::z85(keys.public_key("sim")), Keys::z85(keys.secret("sim"))});
  wait_connected(subscribers, seconds(300), "P7");

  SteadyPublisher publisher(keys, {a.ingest(), b.ingest()}, settings.rate, loaded.end_index);
  // Steady state: subscribers read (their last sequence from A kept), publishing goes on.
  std::vector<std::uint64_t> last_sequence(subscribers.size(), 0);
  auto track = [&](std::size_t i, const common::Broadcast& message, std::int64_t) {
    if (const auto* d = std::get_if<common::Decision>(&message))
      last_sequence[i] = std::max(last_sequence[i], d->sequence);
  };
  subscribers.read_until(Clock::now() + milliseconds(settings.before_kill_ms), track,
                         [](std::size_t) { return false; });

  const auto killed_at = Clock::now();
  a.kill9();
  fmt::print("P7: member A killed (-9) after {} steady events\n", publisher.sent());
  // Directly on A, the subscribers hear nothing for kMissedHeartbeats (they still read what A sent
  // before), then move to B's broadcast. Through relays, they stay: the relays move.
  if (relays.empty()) {
    subscribers.read_until(killed_at + kMissedHeartbeats, track, [](std::size_t) { return false; });
    subscribers.reconnect({b.broadcast()});
  }
  // B's decisions are those after the last sequence A committed, which B loaded ("aggregator
  // started ... sequence=N" in its log): a decision of A's still on its way through a relay is not.
  std::uint64_t loaded_sequence = 0;
  for (auto deadline = Clock::now() + seconds(120); Clock::now() < deadline && loaded_sequence == 0;
       sleep_for(milliseconds(20))) {
    const std::string log = b.log();
    auto at = log.find("aggregator started ");
    if (at == std::string::npos) continue;
    at = log.find(" sequence=", at);
    if (at != std::string::npos) loaded_sequence = std::stoull(log.substr(at + 10));
    if (loaded_sequence == 0) loaded_sequence = 1;  // an empty group: any decision is B's
  }
  std::vector<bool> synced(subscribers.size(), false);
  // Every heartbeat counts, not only the first at B's sequence: a relay whose upstream is silent
  // sends heartbeats of its own (relay/upstream_silence.hpp), at its copy's sequence, which on the
  // wire look like B's. A real subscriber takes a snapshot on any heartbeat ahead of it.
  std::vector<bool> would_snapshot_at(subscribers.size(), false);
  subscribers.read_until(
      killed_at + seconds(300),
      [&](std::size_t i, const common::Broadcast& message, std::int64_t) {
        if (const auto* heartbeat = std::get_if<common::Heartbeat>(&message);
            heartbeat && heartbeat->sequence >= loaded_sequence && heartbeat->sequence > last_sequence[i]) {
          would_snapshot_at[i] = true;
        }
        if (const auto* d = std::get_if<common::Decision>(&message)) {
          if (d->sequence > loaded_sequence) synced[i] = true;
          last_sequence[i] = std::max(last_sequence[i], d->sequence);
        }
      },
      [&](std::size_t i) { return static_cast<bool>(synced[i]); });
  const double resync_s = seconds_since(killed_at);
  const auto would_snapshot =
      static_cast<std::size_t>(std::count(would_snapshot_at.begin(), would_snapshot_at.end(), true));
  const std::size_t unsynced = static_cast<std::size_t>(std::count(synced.begin(), synced.end(), false));

  // Publishing goes on a little after the new leader's first ack, then what was acked is checked.
  for (auto deadline = Clock::now() + seconds(120); !publisher.acks_of(1).first && Clock::now() < deadline;) {
    sleep_for(milliseconds(50));
  }
  sleep_for(milliseconds(settings.after_ack_ms));
  publisher.stop();
  const auto old_acks = publisher.acks_of(0);
  const auto new_acks = publisher.acks_of(1);
  if (!old_acks.last || !new_acks.first)
    throw std::runtime_error("no ack from one of the members; B's log:\n" + b.log());
  const double gap_s = std::chrono::duration<double>(*new_acks.first - *old_acks.last).count();

  zmq::context_t context;
  common::ClientSockets sockets(
      context, {.insecure = false, .server_key = keys.public_key("aggregator"), .client_key = keys.secret("steady")});
  zmq::socket_t ingest = sockets.ingest(b.ingest());
  auto snapshot = common::fetch_snapshot(ingest, seconds(60), "");
  if (!snapshot) throw std::runtime_error("no snapshot from the new leader: " + snapshot.error());
  std::set<std::string> active;
  for (const auto& d : snapshot->decisions) active.insert(d.prefix.to_string());
  std::uint64_t lost = 0;
  const auto acked = publisher.acked();
  for (const auto& prefix : acked) lost += active.contains(prefix) ? 0 : 1;
  if (publisher.refused() > 0) throw std::runtime_error("steady events were refused or throttled");
  fmt::print(
      "P7: gap {:.2f} s (last ack of A to first ack of B); acked {} (A {}, B {}), lost {}, unacked at the end {}; "
      "resync of {} subscriber connections {:.2f} s ({} sockets not synced; {} would take a snapshot); "
      "B's snapshot holds {} bans\n",
      gap_s, acked.size(), old_acks.count, new_acks.count, lost, publisher.unacked(), settings.subscribers, resync_s,
      unsynced, would_snapshot, active.size());

  Figure gap{.id = "P7.gap",
             .label = fmt::format("kill -9 of the active member under {} events/s: last ack of the old leader -> "
                                  "first ack of the new one ({} active bans)",
                                  settings.rate, snapshot->decisions.size()),
             .value = gap_s,
             .unit = "s",
             .baseline_label = "the lease's term (no member takes over before it lapses)",
             .baseline = kLeaseTermSeconds,
             .ratio = gap_s / kLeaseTermSeconds,
             .target = "< 5 s",
             .met = gap_s < 5};
  Figure lost_figure{
      .id = "P7.lost",
      .label = fmt::format("acked events missing from the new leader's state (of {} acked)", acked.size()),
      .value = static_cast<double>(lost),
      .unit = "events",
      .target = "0",
      .met = lost == 0};
  Figure resync{.id = "P7.resync",
                .label = fmt::format("kill -> every one of {} simulated subscribers ({}) has a decision of the new "
                                     "leader ({} of {} sockets would take a snapshot)",
                                     settings.subscribers,
                                     relays.empty() ? "on the aggregator, moving after 3 s of silence"
                                                    : fmt::format("behind {} relays", relays.size()),
                                     would_snapshot, subscribers.size()),
                .value = resync_s,
                .unit = "s",
                .baseline_label = "3 s of silence before a subscriber moves on",
                .baseline = kMissedHeartbeats.count(),
                .ratio = resync_s / static_cast<double>(kMissedHeartbeats.count()),
                .target = "< 60 s",
                .met = resync_s < 60 && unsynced == 0};
  write_results(out, {gap, lost_figure, resync},
                {{"gap_s", gap_s},
                 {"acked", acked.size()},
                 {"acked_by_old", old_acks.count},
                 {"acked_by_new", new_acks.count},
                 {"lost", lost},
                 {"resync_s", resync_s},
                 {"unsynced_sockets", unsynced},
                 {"would_snapshot_sockets", would_snapshot},
                 {"bans", settings.bans},
                 {"subscribers", settings.subscribers},
                 {"connections_per_socket", per_socket},
                 {"rate", settings.rate},
                 {"relays", settings.relays}});
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_failover", fleetban::bench::run_bench, argc, argv);
}
