#pragma once
// The ingest load generator shared by P3 (rate), P4 (loading a million bans) and P5 (loading the
// bans a subscriber applies): several threads, each a persistent CURVE DEALER with a host key of
// its own, pipelining distinct ban events with a window of requests in flight and counting acks.
// Also the raw baseline: the same clients against a trivial CURVE ROUTER that answers each frame
// with a pre-encoded ack, in this process.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace fleetban::bench {

struct ClientKey {
  std::string name;        // host_id of the events = the key's name in authorized_dir
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

struct LoadOptions {
  std::string endpoint;
  std::string server_public;       // Z85
  std::vector<ClientKey> clients;  // one thread per client
  unsigned window = 256;           // requests in flight per thread
  // Rate mode (count == 0): warm up, then measure acks over `duration`.
  std::chrono::milliseconds warmup{1000};
  std::chrono::milliseconds duration{10'000};
  // Count mode: send exactly `count` events in all, wait for every ack.
  std::uint64_t count = 0;
  std::uint64_t first_index = 0;  // addresses bench_address(first_index + i)
  std::int64_t bantime = 86'400;
};

struct LoadResult {
  std::uint64_t sent = 0;
  std::uint64_t applied = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t refused = 0;
  std::uint64_t throttled = 0;
  std::uint64_t undecodable = 0;
  double seconds = 0;              // the measured interval
  double acks_per_second = 0;      // applied acks in the measured interval / seconds
  std::vector<double> per_second;  // applied acks in each whole second of the interval (rate mode)
  std::uint64_t end_index = 0;     // every address used was bench_address(i) for i < end_index
  nlohmann::json to_json() const;
};

// Against a real aggregator: only acks with outcome APPLIED count as durable.
LoadResult run_event_load(const LoadOptions& options);

class Keys;
class Aggregator;
// P3's flags (its drivers: P3, P3PG): the load's shape, how long it is measured, how often.
struct IngestFlags {
  unsigned threads = 8, window = 256;
  int duration_ms = 10'000, warmup_ms = 1000, rounds = 2;
  void add_to(CLI::App& app);
};
// P3's rate-mode load: `threads` clients, each with a host key of its own made in `keys`
// (ingest-0, ingest-1, ...), `window` events in flight each.
LoadOptions ingest_rate_load(Keys& keys, const Aggregator& aggregator, const IngestFlags& flags);
// Throws unless every answer was APPLIED or DUPLICATE: a refused or throttled event means the
// run measured something other than durable ingest.
void require_durable(const LoadResult& result);
// The count mode P4 and P8 load their bans with: `bans` distinct bans that outlive the run (a week),
// from `threads` clients, each with a host key of its own made in `keys` (load-0, load-1, ...).
LoadOptions lasting_ban_load(Keys& keys, const Aggregator& aggregator, std::uint64_t bans, unsigned threads,
                             unsigned window);

// The floor: the same clients and window against an in-process CURVE ROUTER (server_secret: Z85)
// bound on endpoint, which answers every frame with a fixed ack frame. Rate mode only.
LoadResult run_raw_echo(const LoadOptions& options, const std::string& server_secret);

}  // namespace fleetban::bench
