#include "server/zap_handler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <map>
#include <vector>
#include <zmq_addon.hpp>

#include "common/errors.hpp"
#include "common/event.hpp"
#include "common/keys.hpp"
#include "common/poll.hpp"

namespace fleetban::server {

using common::is_valid_name;
using common::poll_for;
using common::read_public_key;
using common::UsageError;

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

using KeyMap = ZapHandler::KeyMap;

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 0x0f];
  }
  return hex;
}

// One key file after another: a bad one is named in `problems` and left out (its name is then
// not admitted at all), the good ones are read.
void read_dir(const std::filesystem::path& dir, const std::string& role, KeyMap& keys,
              std::vector<std::string>& problems) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& path = it->path();
    if (!it->is_regular_file() || path.extension() != ".pub") continue;
    std::string name = path.stem().string();
    if (!is_valid_name(name)) {
      problems.push_back(path.string() + ": '" + name + "' is not a valid host, operator or relay name");
      continue;
    }
    try {
      std::string z85 = read_public_key(path);
      std::array<std::uint8_t, 32> raw{};
      zmq_z85_decode(raw.data(), z85.c_str());
      std::string key(reinterpret_cast<const char*>(raw.data()), raw.size());
      keys[key] = role + ":" + name + ":" + to_hex(key);
    } catch (const std::exception& e) {
      problems.push_back(e.what());
    }
  }
}

struct LoadedKeys {
  KeyMap keys;
  std::vector<std::string> problems;  // one line per key file left out, naming it
};

LoadedKeys load_keys(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) throw UsageError(dir.string() + ": authorized_dir is not a directory");
  LoadedKeys loaded;
  read_dir(dir, "host", loaded.keys, loaded.problems);
  read_dir(dir / "operators", "operator", loaded.keys, loaded.problems);
  read_dir(dir / "relays", "relay", loaded.keys, loaded.problems);
  return loaded;
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, std::filesystem::path authorized_dir)
    : authorized_dir_(std::move(authorized_dir)) {
  // Fail at start, not at the first connection: a bad key file stops the aggregator, named.
  auto [keys, problems] = load_keys(authorized_dir_);
  if (!problems.empty()) throw UsageError(problems.front());
  admit(keys);
  spdlog::info("zap_keys_loaded count={} dir={}", keys.size(), authorized_dir_.string());
  zmq::socket_t socket(context, zmq::socket_type::rep);
  socket.set(zmq::sockopt::linger, 0);
  socket.bind(kZapEndpoint);
  thread_ =
      std::thread([this, s = std::move(socket), k = std::move(keys)]() mutable { serve(std::move(s), std::move(k)); });
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::admit(const KeyMap& keys) {
  // A User-Id names the key: a key replaced under the same name is a removed key.
  std::set<std::string> user_ids;
  std::set<std::string> names;
  for (const auto& [key, user_id] : keys) {
    user_ids.insert(user_id);
    names.insert(user_id.substr(0, user_id.rfind(':')));
  }
  std::lock_guard lock(admitted_mutex_);
  bool revoked =
      std::any_of(admitted_.begin(), admitted_.end(), [&](const auto& id) { return !user_ids.contains(id); });
  admitted_ = std::move(user_ids);
  admitted_names_ = std::move(names);
  if (revoked) ++revocations_;
}

bool ZapHandler::admits(const PeerIdentity& peer) const {
  std::string user_id = std::string(to_string(peer.role)) + ":" + peer.name + ":" + peer.key;
  std::lock_guard lock(admitted_mutex_);
  return admitted_.contains(user_id);
}

bool ZapHandler::admits_name(PeerRole role, const std::string& name) const {
  std::string role_name = std::string(to_string(role)) + ":" + name;
  std::lock_guard lock(admitted_mutex_);
  return admitted_names_.contains(role_name);
}

std::vector<PeerIdentity> ZapHandler::admitted() const {
  std::vector<PeerIdentity> keys;
  std::lock_guard lock(admitted_mutex_);
  for (const auto& user_id : admitted_) {
    if (auto peer = parse_user_id(user_id)) keys.push_back(std::move(*peer));
  }
  return keys;
}

void ZapHandler::serve(zmq::socket_t socket, KeyMap keys) {
  try {
    while (!stop_.load()) {
      if (reload_.exchange(false)) {
        try {
          // A bad file leaves out its own name only (fails closed for it): keeping all the old
          // keys instead would keep admitting the ones just removed or replaced.
          auto loaded = load_keys(authorized_dir_);
          for (const auto& problem : loaded.problems) {
            spdlog::error("zap_key_file_refused error=\"{}\"; that key is not admitted", problem);
          }
          keys = std::move(loaded.keys);
          admit(keys);
          spdlog::info("zap_keys_reloaded count={} refused_files={}", keys.size(), loaded.problems.size());
        } catch (const std::exception& e) {
          // authorized_dir itself is unreadable: nothing tells which keys went, so none is dropped.
          spdlog::error("zap_keys_not_reloaded error=\"{}\"; keeping the old keys", e.what());
        }
        ++reloads_;
      }
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      poll_for(&item, 1, std::chrono::milliseconds(100));
      if ((item.revents & ZMQ_POLLIN) == 0) continue;
      // Request: version, request id, domain, address, identity, mechanism, credentials...
      std::vector<zmq::message_t> request;
      if (!zmq::recv_multipart(socket, std::back_inserter(request))) continue;
      std::string status = "400";
      std::string text = "unknown key";
      std::string user_id;
      std::string address = request.size() > 3 ? request[3].to_string() : "?";
      if (request.size() >= 7 && request[0].to_string_view() == "1.0" && request[5].to_string_view() == "CURVE") {
        auto it = keys.find(request[6].to_string());
        if (it != keys.end()) {
          status = "200";
          text = "OK";
          user_id = it->second;
        }
      } else {
        text = "CURVE required";
      }
      if (status != "200") spdlog::warn("connection_refused peer={} reason=\"{}\"", address, text);
      std::string request_id = request.size() > 1 ? request[1].to_string() : std::string();
      std::array<zmq::const_buffer, 6> reply{zmq::str_buffer("1.0"), zmq::buffer(request_id), zmq::buffer(status),
                                             zmq::buffer(text),      zmq::buffer(user_id),    zmq::const_buffer{}};
      zmq::send_multipart(socket, reply);
    }
  } catch (const std::exception& e) {
    spdlog::critical("zap_handler_died error=\"{}\"", e.what());
  }
  alive_ = false;
}

}  // namespace fleetban::server
