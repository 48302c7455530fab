#include "bench/event_load.hpp"

#include <CLI/CLI.hpp>

#include <array>
#include <atomic>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include <zmq.hpp>

#include "bench/bench_support.hpp"
#include "common/codec.hpp"
#include "common/ip_prefix.hpp"

namespace fleetban::bench {

namespace {

struct Counters {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> applied{0};
  std::atomic<std::uint64_t> duplicate{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> throttled{0};
  std::atomic<std::uint64_t> undecodable{0};
  std::atomic<std::uint64_t> outstanding{0};  // sent, not yet answered (all threads)
  std::atomic<unsigned> finished{0};          // threads done
  std::atomic<std::uint64_t> end_index{0};    // one past the largest address index used
};

zmq::socket_t client_socket(zmq::context_t& context, const LoadOptions& options, const ClientKey& key) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::immediate, 1);
  socket.set(zmq::sockopt::sndhwm, 100'000);
  socket.set(zmq::sockopt::rcvhwm, 100'000);
  socket.set(zmq::sockopt::curve_serverkey, options.server_public);
  socket.set(zmq::sockopt::curve_publickey, key.public_key);
  socket.set(zmq::sockopt::curve_secretkey, key.secret_key);
  socket.connect(options.endpoint);
  return socket;
}

// One client thread. In count mode it sends `quota` events with addresses first + k*stride.
void client_loop(zmq::context_t& context, const LoadOptions& options, const ClientKey& key, Counters& counters,
                 const std::atomic<bool>& stop, std::uint64_t quota, std::uint64_t first, std::uint64_t stride) {
  zmq::socket_t socket = client_socket(context, options, key);
  std::mt19937_64 random{std::random_device{}()};
  common::Event event;
  event.kind = common::EventKind::ban;
  event.jail = "sshd";
  event.host_id = key.name;
  event.bantime = std::chrono::seconds(options.bantime);
  event.failures = 5;
  event.bancount = 1;
  bool counted = options.count > 0;
  std::uint64_t next = 0;  // events this thread made
  std::uint64_t in_flight = 0;
  std::uint64_t answered = 0;
  std::string frame;
  while (!interrupted() && !stop.load(std::memory_order_relaxed)) {
    if (counted && answered >= quota) break;
    while (in_flight < options.window && (!counted || next < quota) && !stop.load(std::memory_order_relaxed)) {
      std::uint64_t a = random(), b = random();
      std::memcpy(event.id.data(), &a, 8);
      std::memcpy(event.id.data() + 8, &b, 8);
      event.prefix = *common::IpPrefix::parse(bench_address(first + next * stride));
      event.time = common::now_ms();
      event.created = event.time;
      frame = common::encode(common::Request{event});
      if (!socket.send(zmq::buffer(frame), zmq::send_flags::dontwait)) break;  // not connected yet
      ++next;
      ++in_flight;
      counters.sent.fetch_add(1, std::memory_order_relaxed);
      counters.outstanding.fetch_add(1, std::memory_order_relaxed);
    }
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(in_flight > 0 ? 100 : 5));
    zmq::message_t message;
    while (socket.recv(message, zmq::recv_flags::dontwait)) {
      if (in_flight > 0) --in_flight;
      ++answered;
      counters.outstanding.fetch_sub(1, std::memory_order_relaxed);
      auto reply = common::decode_reply(message.to_string_view());
      auto* ack = reply ? std::get_if<common::Ack>(&*reply) : nullptr;
      if (ack == nullptr) {
        counters.undecodable.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      switch (ack->outcome) {
        case common::AckOutcome::applied: counters.applied.fetch_add(1, std::memory_order_relaxed); break;
        case common::AckOutcome::duplicate: counters.duplicate.fetch_add(1, std::memory_order_relaxed); break;
        case common::AckOutcome::refused: counters.refused.fetch_add(1, std::memory_order_relaxed); break;
        case common::AckOutcome::throttled: counters.throttled.fetch_add(1, std::memory_order_relaxed); break;
      }
    }
  }
  std::uint64_t end = first + next * stride;
  std::uint64_t current = counters.end_index.load();
  while (end > current && !counters.end_index.compare_exchange_weak(current, end)) {
  }
  counters.finished.fetch_add(1);
}

void fill(LoadResult& result, const Counters& counters) {
  result.sent = counters.sent.load();
  result.applied = counters.applied.load();
  result.duplicate = counters.duplicate.load();
  result.refused = counters.refused.load();
  result.throttled = counters.throttled.load();
  result.undecodable = counters.undecodable.load();
  result.end_index = counters.end_index.load();
}

// Runs the client threads; in rate mode samples the applied counter once a second after warm-up.
LoadResult drive(const LoadOptions& options) {
  if (options.clients.empty()) throw std::invalid_argument("no clients");
  zmq::context_t context;
  Counters counters;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  auto n = static_cast<std::uint64_t>(options.clients.size());
  for (std::uint64_t t = 0; t < n; ++t) {
    std::uint64_t quota = options.count / n + (t < options.count % n ? 1 : 0);
    // Thread t makes addresses first_index + t + k*n: all distinct across threads.
    threads.emplace_back(client_loop, std::ref(context), std::cref(options), std::cref(options.clients[t]),
                         std::ref(counters), std::cref(stop), quota, options.first_index + t, n);
  }
  LoadResult result;
  try {
    if (options.count > 0) {
      auto started = Clock::now();
      // Measured from the first ack: connection and CURVE handshakes are not ingest.
      while (counters.applied.load() + counters.refused.load() + counters.duplicate.load() + counters.throttled.load() +
                 counters.undecodable.load() ==
             0) {
        sleep_for(milliseconds(1));
        if (seconds_since(started) > 30) throw std::runtime_error("no ack from the aggregator within 30 s");
      }
      auto first_ack = Clock::now();
      // Wait for every thread; give up when no ack arrives for 30 s (a lost reply would hang).
      std::uint64_t answered = 0;
      auto progress = Clock::now();
      while (counters.finished.load() < n) {
        sleep_for(milliseconds(2));
        std::uint64_t now = counters.sent.load() - counters.outstanding.load();
        if (now != answered) {
          answered = now;
          progress = Clock::now();
        } else if (seconds_since(progress) > 30) {
          throw std::runtime_error("count mode: no ack for 30 s with " + std::to_string(counters.outstanding.load()) +
                                   " events outstanding");
        }
      }
      result.seconds = seconds_since(first_ack);
      for (auto& thread : threads) thread.join();
      fill(result, counters);
      result.acks_per_second = static_cast<double>(result.applied) / result.seconds;
    } else {
      sleep_for(options.warmup);
      std::uint64_t last = counters.applied.load();
      auto t0 = Clock::now();
      auto next_sample = t0 + std::chrono::seconds(1);
      auto end = t0 + options.duration;
      std::uint64_t start_count = last;
      while (Clock::now() < end) {
        sleep_for(std::min<milliseconds>(
            milliseconds(10),
            std::chrono::duration_cast<milliseconds>(std::min(next_sample, end) - Clock::now()) + milliseconds(1)));
        if (Clock::now() >= next_sample && next_sample <= end) {
          std::uint64_t now = counters.applied.load();
          result.per_second.push_back(static_cast<double>(now - last));
          last = now;
          next_sample += std::chrono::seconds(1);
        }
      }
      std::uint64_t end_count = counters.applied.load();
      result.seconds = seconds_since(t0);
      stop = true;
      for (auto& thread : threads) thread.join();
      fill(result, counters);
      result.acks_per_second = static_cast<double>(end_count - start_count) / result.seconds;
    }
  } catch (...) {
    stop = true;
    for (auto& thread : threads) {
      if (thread.joinable()) thread.join();
    }
    throw;
  }
  return result;
}

}  // namespace

nlohmann::json LoadResult::to_json() const {
  return {{"sent", sent},
          {"applied", applied},
          {"duplicate", duplicate},
          {"refused", refused},
          {"throttled", throttled},
          {"undecodable", undecodable},
          {"seconds", seconds},
          {"acks_per_second", acks_per_second},
          {"per_second", per_second},
          {"end_index", end_index}};
}

LoadResult run_event_load(const LoadOptions& options) { return drive(options); }

namespace {

// Options for `threads` clients named PREFIX-0, PREFIX-1, ..., their keys made in `keys`.
LoadOptions clients_of(Keys& keys, const Aggregator& aggregator, const std::string& prefix, unsigned threads,
                       unsigned window) {
  LoadOptions options;
  options.endpoint = aggregator.ingest();
  options.server_public = Keys::z85(keys.public_key("aggregator"));
  options.window = window;
  for (unsigned t = 0; t < threads; ++t) {
    std::string name = prefix + "-" + std::to_string(t);
    keys.make(name);
    options.clients.push_back({name, Keys::z85(keys.public_key(name)), Keys::z85(keys.secret(name))});
  }
  return options;
}

}  // namespace

LoadOptions lasting_ban_load(Keys& keys, const Aggregator& aggregator, std::uint64_t bans, unsigned threads,
                             unsigned window) {
  LoadOptions options = clients_of(keys, aggregator, "load", threads, window);
  options.count = bans;
  options.bantime = 7 * 86'400;
  return options;
}

void IngestFlags::add_to(CLI::App& app) {
  app.add_option("--threads", threads, "client threads, one DEALER and host key each");
  app.add_option("--window", window, "events in flight per thread");
  app.add_option("--duration-ms", duration_ms, "measured interval per run");
  app.add_option("--warmup-ms", warmup_ms, "unmeasured interval before it");
  app.add_option("--rounds", rounds, "rounds of (baseline, aggregator), order alternating");
}

LoadOptions ingest_rate_load(Keys& keys, const Aggregator& aggregator, const IngestFlags& flags) {
  LoadOptions options = clients_of(keys, aggregator, "ingest", flags.threads, flags.window);
  options.warmup = milliseconds(flags.warmup_ms);
  options.duration = milliseconds(flags.duration_ms);
  return options;
}

void require_durable(const LoadResult& r) {
  if (r.refused + r.throttled + r.undecodable > 0) {
    throw std::runtime_error("events were refused or throttled: the measurement is not of durable ingest");
  }
}

LoadResult run_raw_echo(const LoadOptions& options, const std::string& server_secret) {
  if (options.count > 0) throw std::invalid_argument("raw echo: rate mode only");
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::rcvhwm, 100'000);
  router.set(zmq::sockopt::sndhwm, 100'000);
  router.set(zmq::sockopt::curve_server, 1);
  router.set(zmq::sockopt::curve_secretkey, server_secret);
  router.bind(options.endpoint);
  // The answer a real aggregator gives, so the clients do exactly the same work.
  common::Ack ack{.event_id = common::random_event_id(), .outcome = common::AckOutcome::applied};
  const std::string reply = common::encode(common::Reply{ack});
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      zmq::message_t identity;
      zmq::message_t payload;
      while (router.recv(identity, zmq::recv_flags::dontwait)) {
        if (!identity.more()) continue;
        if (!router.recv(payload, zmq::recv_flags::dontwait)) break;
        router.send(identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        router.send(zmq::buffer(reply), zmq::send_flags::dontwait);
      }
    }
  });
  LoadResult result;
  try {
    result = drive(options);
  } catch (...) {
    stop = true;
    echo.join();
    throw;
  }
  stop = true;
  echo.join();
  return result;
}

}  // namespace fleetban::bench
