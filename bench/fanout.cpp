// bench_fanout (P6): one decision to many subscribers (issue 12). One driver process holds every
// simulated subscriber (10,000 by default) as a CURVE connection of its own, on SUB sockets read
// through one epoll set, and times each connection's receipt of each decision. It raises its own
// descriptor limit; where it cannot go past two descriptors per subscriber (20,000 without
// CAP_SYS_RESOURCE on this machine), each SUB socket takes two connections (a socket's mailbox
// costs a descriptor too), and each copy a socket receives is one subscriber's receipt.
//
// Rows, each of `--decisions` decisions, one at a time (the next once every socket has the last,
// then `--spacing-ms`):
// - `raw`: the floor. A bare libzmq CURVE PUB (this binary again, `bench_fanout raw-pub`, in a
//   process of its own with as many I/O threads as the aggregator) sends a pre-encoded decision
//   when the driver says so; latency from just before the driver's word to each socket's receipt.
// - `aggregator`: a real fleetban-aggregator, every socket on its broadcast; the driver's own
//   connected DEALER sends a ban event, latency from just before that send (so it includes the
//   aggregator's commit) to each socket's receipt of the decision.
// - `relays=K` (when fleetban-relay is built): K relays on the aggregator, the sockets spread
//   over their broadcasts, the event sent to the aggregator as above.
// Both the floor and fleetban's rows decode every message with the same codec, so the driver's
// own work per message is the same in each.

#include <sys/epoll.h>
#include <sys/resource.h>

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <zmq.hpp>

#include "bench/bench_support.hpp"
#include "bench/simulated_subscribers.hpp"
#include "common/aggregator_client.hpp"
#include "common/codec.hpp"
#include "common/socket_factory.hpp"
#include "server/server_sockets.hpp"

namespace fleetban::bench {
namespace {

using std::chrono::seconds;

// The bytes the aggregator would broadcast for a ban of `ip`, so the floor carries the same load.
std::string encoded_decision(const std::string& ip, std::uint64_t sequence) {
  common::Decision decision{.sequence = sequence,
                            .prefix = *common::IpPrefix::parse(ip),
                            .active = true,
                            .banned_at = common::now_seconds(),
                            .expires_at = common::now_seconds() + seconds(3600),
                            .reporters = {"publisher"},
                            .jails = {"sshd"},
                            .reporter_count = 1,
                            .jail_count = 1,
                            .ban_count = 1};
  return common::encode(common::Broadcast{decision});
}

// ---------------------------------------------------------------------------------------------
// The floor's publisher: `bench_fanout raw-pub --bind EP --control EP --secret Z85`. It sends a
// hello every second, as the aggregator sends its heartbeats (so the driver knows every
// subscription is live, and the floor carries the same background load), and, for each control
// message, that message's bytes on the PUB.

int run_raw_pub(const std::string& bind, const std::string& control_endpoint, const std::string& secret) {
  zmq::context_t context(kIoThreads);
  zmq::socket_t pub(context, zmq::socket_type::pub);
  pub.set(zmq::sockopt::curve_server, 1);
  pub.set(zmq::sockopt::curve_secretkey, secret);
  pub.set(zmq::sockopt::sndhwm, 100'000);
  pub.set(zmq::sockopt::backlog, server::kListenBacklog);
  pub.bind(bind);
  zmq::socket_t control(context, zmq::socket_type::pull);
  control.bind(control_endpoint);
  std::uint64_t hellos = 0;
  auto next_hello = Clock::now();
  while (true) {
    zmq::pollitem_t item{control.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, milliseconds(50));
    zmq::message_t message;
    while (control.recv(message, zmq::recv_flags::dontwait)) {
      if (message.size() == 0) return 0;  // the driver is done
      pub.send(message, zmq::send_flags::none);
    }
    if (Clock::now() >= next_hello) {
      // Each hello differs (its sequence), so the driver can count one hello's copies per socket.
      common::Heartbeat heartbeat{
          .sequence = ++hellos, .incarnation = std::string(16, 'r'), .time = common::now_seconds()};
      const std::string hello = common::encode(common::Broadcast{heartbeat});
      pub.send(zmq::buffer(hello), zmq::send_flags::none);
      next_hello = Clock::now() + seconds(1);
    }
  }
}

// One decision: the address every connection waits for, and when it was sent.
struct Awaited {
  std::string ip;
  std::int64_t sent_ns = 0;
};

// Times one decision to every connection: appends one latency (ms) per copy received; returns the
// copies that did not come within 30 s.
std::size_t time_decision(SimulatedSubscribers& subscribers, const Awaited& awaited, std::vector<double>& ms) {
  std::vector<int> copies(subscribers.size(), 0);
  const auto prefix = *common::IpPrefix::parse(awaited.ip);
  std::size_t received = 0;
  subscribers.read_until(
      Clock::now() + seconds(30),
      [&](std::size_t i, const common::Broadcast& message, std::int64_t when) {
        const auto* decision = std::get_if<common::Decision>(&message);
        if (decision == nullptr || decision->prefix != prefix || copies[i] == subscribers.connections_of(i)) return;
        ++copies[i];
        ++received;
        ms.push_back(static_cast<double>(when - awaited.sent_ns) / 1e6);
      },
      [&](std::size_t i) { return copies[i] == subscribers.connections_of(i); });
  return static_cast<std::size_t>(subscribers.connections()) - received;
}

struct RowResult {
  std::string name;
  Summary latency;
  std::size_t lost = 0;
  double connect_s = 0;
  std::uint64_t server_rss_kb = 0;
};

nlohmann::json to_json(const RowResult& row) {
  return {{"row", row.name},
          {"latency_ms", bench::to_json(row.latency)},
          {"lost", row.lost},
          {"connect_s", row.connect_s},
          {"server_rss_kb", row.server_rss_kb}};
}

struct Settings {
  Programs programs;
  int subscribers = 10'000;
  int decisions = 200;
  int spacing_ms = 50;
  std::vector<int> relays{1, 2, 4};
  int per_socket = 1;  // connections per SUB socket, as the fd limit allows
};

RowResult raw_row(const Settings& settings, Keys& keys, const TempDir& dir) {
  const std::string bind = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  const std::string control_endpoint = "ipc://" + (dir / "raw-control").string();
  Process pub({(own_directory() / "bench_fanout").string(), "raw-pub", "--bind", bind, "--control", control_endpoint,
               "--secret", Keys::z85(keys.secret("raw"))},
              dir / "raw-pub.log");
  zmq::context_t context;
  zmq::socket_t control(context, zmq::socket_type::push);
  control.connect(control_endpoint);
  SimulatedSubscribers subscribers(
      settings.subscribers, settings.per_socket, {bind},
      {Keys::z85(keys.public_key("raw")), Keys::z85(keys.public_key("sim")), Keys::z85(keys.secret("sim"))});
  RowResult row{.name = "raw"};
  row.connect_s = wait_connected(subscribers, seconds(300), "P6");
  std::vector<double> ms;
  for (int d = 0; d < settings.decisions; ++d) {
    Awaited awaited{.ip = bench_address(static_cast<std::uint64_t>(d)), .sent_ns = monotonic_ns()};
    control.send(zmq::buffer(encoded_decision(awaited.ip, static_cast<std::uint64_t>(d) + 1)), zmq::send_flags::none);
    row.lost += time_decision(subscribers, awaited, ms);
    sleep_for(milliseconds(settings.spacing_ms));
  }
  row.server_rss_kb = status_kb(pub.pid(), "VmRSS");
  control.send(zmq::message_t(), zmq::send_flags::none);
  pub.wait_for_exit(milliseconds(5'000));
  row.latency = summarize(ms);
  return row;
}

// The driver's own connected client: one ban event per decision, timed from just before its send.
class Client {
 public:
  Client(Keys& keys, const Aggregator& aggregator)
      : sockets_(
            context_,
            {.insecure = false, .server_key = keys.public_key("aggregator"), .client_key = keys.secret("publisher")}),
        ingest_(sockets_.ingest(aggregator.ingest())) {}

  std::int64_t ban(const std::string& ip) {
    common::Event event{.id = common::random_event_id(),
                        .kind = common::EventKind::ban,
                        .prefix = *common::IpPrefix::parse(ip),
                        .jail = "sshd",
                        .host_id = "publisher",
                        .bantime = seconds(3600),
                        .time = common::now_ms(),
                        .created = common::now_ms()};
    const std::int64_t sent = monotonic_ns();
    auto ack = common::send_event(ingest_, event, seconds(10));
    if (!ack || ack->outcome != common::AckOutcome::applied) throw std::runtime_error("event not applied");
    return sent;
  }

 private:
  zmq::context_t context_;
  common::ClientSockets sockets_;
  zmq::socket_t ingest_;
};

// The aggregator, directly (relays = 0) or through `relays` relays.
RowResult fleet_row(const Settings& settings, Keys& keys, const TempDir& dir, int relays) {
  const fs::path round_dir = dir / fmt::format("relays{}", relays);
  Aggregator aggregator(settings.programs, keys, round_dir / "aggregator");
  aggregator.start();
  std::vector<std::unique_ptr<Process>> relay_processes;
  std::vector<std::string> endpoints;
  std::string server_key = Keys::z85(keys.public_key("aggregator"));
  if (relays == 0) {
    endpoints.push_back(aggregator.broadcast());
  } else {
    server_key = Keys::z85(keys.public_key("relay"));
    for (int r = 0; r < relays; ++r) {
      auto relay = start_relay(settings.programs, keys, {aggregator.ingest()}, {aggregator.broadcast()},
                               round_dir / fmt::format("relay{}", r), {"sim", "bench-probe"});
      endpoints.push_back(relay.broadcast);
      relay_processes.push_back(std::move(relay.process));
    }
  }
  Client client(keys, aggregator);
  SimulatedSubscribers subscribers(settings.subscribers, settings.per_socket, endpoints,
                                   {server_key, Keys::z85(keys.public_key("sim")), Keys::z85(keys.secret("sim"))});
  RowResult row{.name = relays == 0 ? "aggregator" : fmt::format("relays={}", relays)};
  row.connect_s = wait_connected(subscribers, seconds(300), "P6");
  std::vector<double> ms;
  for (int d = 0; d < settings.decisions; ++d) {
    Awaited awaited{.ip = bench_address(static_cast<std::uint64_t>(d))};
    awaited.sent_ns = client.ban(awaited.ip);
    row.lost += time_decision(subscribers, awaited, ms);
    sleep_for(milliseconds(settings.spacing_ms));
  }
  row.server_rss_kb = status_kb(aggregator.pid(), "VmRSS");
  row.latency = summarize(ms);
  return row;
}

int run_bench(int argc, char** argv) {
  CLI::App app{"P6: one decision to many subscribers, directly and through relays"};
  Settings settings;
  settings.programs.bench = own_directory();
  fs::path out = "p6.json";
  std::string bind, control, secret;
  auto* raw_pub = app.add_subcommand("raw-pub", "the floor's PUB (run by the driver itself)");
  raw_pub->add_option("--bind", bind)->required();
  raw_pub->add_option("--control", control)->required();
  raw_pub->add_option("--secret", secret)->required();
  app.add_option("--bin", settings.programs.bin, "fleetban's programs (build/bin)");
  app.add_option("--out", out, "JSON results");
  app.add_option("--subscribers", settings.subscribers, "simulated subscribers (SUB sockets in this process)");
  app.add_option("--decisions", settings.decisions, "decisions per row");
  app.add_option("--spacing-ms", settings.spacing_ms, "pause after each decision reached every socket");
  app.add_option("--relays", settings.relays, "relay counts, e.g. 1,2,4 (0: none)")->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  if (*raw_pub) return run_raw_pub(bind, control, secret);
  if (settings.programs.bin.empty()) throw std::runtime_error("--bin is required");

  // Here a descriptor per connection and one per socket (its mailbox); in the aggregator or relay
  // (which inherit the limit) one per connection. Where the limit stays below two per subscriber
  // (no CAP_SYS_RESOURCE: 20,000 on this machine), sockets take more than one connection each.
  const auto limit = static_cast<int>(raise_fd_limit(static_cast<unsigned long>(2 * settings.subscribers + 1024)));
  while (settings.subscribers + (settings.subscribers + settings.per_socket - 1) / settings.per_socket + 512 > limit &&
         settings.per_socket < 2) {
    ++settings.per_socket;
  }
  fmt::print("P6: {} subscriber connections on {} SUB sockets (descriptor limit {})\n", settings.subscribers,
             (settings.subscribers + settings.per_socket - 1) / settings.per_socket, limit);
  TempDir dir;
  Keys keys(settings.programs, dir / "keys");
  keys.make("publisher");
  keys.make("sim");
  keys.make("raw", false);
  keys.make("relay", false);
  fs::create_directories(keys.authorized_dir() / "relays");
  fs::copy_file(keys.public_key("relay"), keys.authorized_dir() / "relays/relay.pub");

  std::vector<RowResult> rows;
  rows.push_back(raw_row(settings, keys, dir));
  rows.push_back(fleet_row(settings, keys, dir, 0));
  const bool have_relay = fs::exists(settings.programs.bin / "fleetban-relay");
  for (int k : settings.relays) {
    if (k <= 0) continue;
    if (!have_relay) {
      fmt::print("P6 relays={}: skipped, {} is not built\n", k, (settings.programs.bin / "fleetban-relay").string());
      continue;
    }
    rows.push_back(fleet_row(settings, keys, dir, k));
  }

  nlohmann::json details = nlohmann::json::array();
  std::vector<Figure> figures;
  const Summary& floor = rows.front().latency;
  for (const auto& row : rows) {
    details.push_back(to_json(row));
    fmt::print(
        "P6 {:<11} n={} p50 {:7.2f} p99 {:7.2f} p99.9 {:7.2f} max {:7.2f} ms  (lost {}, connect {:.1f} s, "
        "server RSS {:.0f} MB)\n",
        row.name, settings.subscribers, row.latency.p50, row.latency.p99, row.latency.p999, row.latency.max, row.lost,
        row.connect_s, static_cast<double>(row.server_rss_kb) / 1024);
    if (row.name == "raw") continue;
    Figure f{
        .id = "P6." + row.name + ".p99",
        .label = fmt::format("decision -> every one of {} simulated subscribers, {} (p50 {:.2f}, p99.9 {:.2f}, max "
                             "{:.2f} ms; {} decisions)",
                             settings.subscribers, row.name, row.latency.p50, row.latency.p999, row.latency.max,
                             settings.decisions),
        .value = row.latency.p99,
        .unit = "ms",
        .baseline_label = "raw libzmq CURVE PUB to the same sockets, p99",
        .baseline = floor.p99,
        .ratio = floor.p99 > 0 ? std::optional(row.latency.p99 / floor.p99) : std::nullopt,
        .target = row.name == "aggregator" ? "" : "p99 <= 1.5x the floor"};
    if (row.name != "aggregator" && f.ratio) f.met = *f.ratio <= 1.5 && row.lost == 0;
    if (row.lost > 0) f.note = fmt::format("{} deliveries lost", row.lost);
    figures.push_back(f);
  }
  write_results(
      out, figures,
      {{"rows", details}, {"subscribers", settings.subscribers}, {"connections_per_socket", settings.per_socket}});
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_fanout", fleetban::bench::run_bench, argc, argv);
}
