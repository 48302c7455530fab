#include "common/spool.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "common/codec.hpp"
#include "common/errors.hpp"

namespace fleetban::common {

namespace {

constexpr std::string_view kSuffix = ".event";
constexpr std::uintmax_t kMaxSpoolFileBytes = 64 * 1024;
constexpr std::string_view kUnreachableMarker = ".aggregator-unreachable";

bool is_spool_file(const std::filesystem::directory_entry& entry) {
  const auto name = entry.path().filename().string();
  return entry.is_regular_file() && !name.starts_with(".") && name.ends_with(kSuffix);
}

}  // namespace

Spool::Spool(std::filesystem::path dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

Expected<std::filesystem::path> Spool::put(const Event& event) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Failure{dir_.string() + ": cannot create spool directory: " + ec.message()};
  std::string bytes = encode_event(event);
  if (max_bytes_ > 0 && !has_room_for(bytes.size())) {
    return Failure{dir_.string() + ": spool is full (spool_max_bytes = " + std::to_string(max_bytes_) + ")"};
  }
  // The creation time first makes name order the order of events; the id makes the name unique.
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%016lld", static_cast<long long>(to_unix_ms(event.created)));
  std::filesystem::path file = dir_ / (std::string(stamp) + "-" + to_hex(event.id) + std::string(kSuffix));
  try {
    write_file_atomically(file, bytes, 0600);
  } catch (const RuntimeError& e) {
    return Failure{e.what()};
  }
  return file;
}

std::vector<std::filesystem::path> Spool::list() const {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_spool_file(*it)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Spool::ReadResult Spool::read(const std::filesystem::path& file) const {
  std::string reason;
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec == std::errc::no_such_file_or_directory) return {};
  if (ec) {
    reason = "cannot stat: " + ec.message();
  } else if (size > kMaxSpoolFileBytes) {
    reason = "too large to be an event";
  } else {
    std::ifstream in(file, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (!in) {
      reason = "cannot read";
    } else {
      auto event = decode_event(buffer.str());
      if (event) return {.event = std::move(*event), .error = {}};
      reason = "not a valid event: " + event.error();
    }
  }
  auto moved = set_aside(file, reason);
  return {.event = std::nullopt,
          .error = file.string() + ": " + reason +
                   (moved ? "; moved to " + moved->string() : "; could not move it aside: " + moved.error())};
}

Expected<std::filesystem::path> Spool::set_aside(const std::filesystem::path& file, const std::string& reason) const {
  std::error_code ec;
  std::filesystem::path bad_dir = dir_ / "bad";
  std::filesystem::create_directories(bad_dir, ec);
  std::filesystem::path moved = bad_dir / file.filename();
  // The reason first: a file in bad/ always says why it is there.
  std::filesystem::path why = moved;
  why += ".reason";
  try {
    write_file_atomically(why, reason + "\n", 0600);
  } catch (const RuntimeError& e) {
    return Failure{e.what()};
  }
  std::filesystem::rename(file, moved, ec);
  if (ec) return Failure{ec.message()};
  return moved;
}

void Spool::remove(const std::filesystem::path& file) const {
  std::error_code ec;
  std::filesystem::remove(file, ec);
}

void Spool::mark_unreachable() const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  // The marker's mtime is the time of the last failure; its content does not matter.
  std::FILE* f = std::fopen((dir_ / kUnreachableMarker).c_str(), "w");
  if (f != nullptr) std::fclose(f);
}

void Spool::mark_reachable() const {
  std::error_code ec;
  std::filesystem::remove(dir_ / kUnreachableMarker, ec);
}

bool Spool::recently_unreachable(std::chrono::seconds window) const {
  std::error_code ec;
  auto modified = std::filesystem::last_write_time(dir_ / kUnreachableMarker, ec);
  if (ec) return false;
  auto age = std::filesystem::file_time_type::clock::now() - modified;
  return age >= std::filesystem::file_time_type::duration::zero() && age < window && !empty();
}

bool Spool::has_room_for(std::size_t bytes) const {
  // Every publish asks, and after a long outage the spool holds tens of thousands of files: reading
  // each one's size (a stat each) made a publish cost 0.1 s at 20,000. Their count bounds the total,
  // as no spooled event is larger than kMaxEncodedEventBytes; the sizes are read only near the limit.
  if (count() * kMaxEncodedEventBytes + bytes <= max_bytes_) return true;
  return size_bytes() + bytes <= max_bytes_;
}

std::uint64_t Spool::count() const {
  std::uint64_t files = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_spool_file(*it)) ++files;
  }
  return files;
}

bool Spool::empty() const {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_spool_file(*it)) return false;
  }
  return true;
}

std::uint64_t Spool::size_bytes() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_spool_file(*it)) total += it->file_size(ec);
  }
  return total;
}

}  // namespace fleetban::common
