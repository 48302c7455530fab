#include "common/spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/atomic_file.hpp"
#include "common/codec.hpp"
#include "common/errors.hpp"
#include "common/unique_fd.hpp"

namespace fleetban::common {

namespace {

constexpr std::string_view kSuffix = ".event";
constexpr std::uintmax_t kMaxSpoolFileBytes = 64 * 1024;
constexpr std::string_view kUnreachableMarker = ".aggregator-unreachable";
constexpr std::string_view kAckedByFile = ".acked-by";
constexpr std::size_t kMaxEndpointBytes = 1024;

bool is_spool_file(const std::filesystem::directory_entry& entry) {
  const auto name = entry.path().filename().string();
  // A symlink counts, so that read() moves it aside (and says so) without following it.
  return (entry.is_symlink() || entry.is_regular_file()) && !name.starts_with(".") && name.ends_with(kSuffix);
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
  // O_NOFOLLOW and fstat of the opened file: a symlink planted in the spool is never followed (its
  // target is neither read nor, later, removed), and nothing can swap the file after the checks.
  // O_NONBLOCK keeps a planted FIFO from blocking the open.
  UniqueFd fd(open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd && errno == ENOENT) return {};
  if (!fd && errno == ELOOP) {
    reason = "a symbolic link, not a spooled event (not followed)";
  } else if (!fd || fstat(fd.get(), &st) != 0) {
    reason = std::string("cannot open: ") + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    reason = "not a regular file";
  } else if (static_cast<std::uintmax_t>(st.st_size) > kMaxSpoolFileBytes) {
    reason = "too large to be an event";
  } else if (auto bytes = read_all(fd.get(), kMaxSpoolFileBytes); !bytes) {
    reason = std::string("cannot read: ") + std::strerror(errno);
  } else {
    auto event = decode_event(*bytes);
    if (event) return {.event = std::move(*event), .error = {}};
    reason = "not a valid event: " + event.error();
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
  if (ec) {
    // Another drain sent and removed it meanwhile (or it cannot be moved): no reason without a file.
    std::error_code ignored;
    std::filesystem::remove(why, ignored);
    return Failure{ec.message()};
  }
  return moved;
}

void Spool::remove(const std::filesystem::path& file) const {
  std::error_code ec;
  std::filesystem::remove(file, ec);
}

void Spool::mark_unreachable() const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  // The marker's mtime is the time of the last failure; its content does not matter. O_NOFOLLOW:
  // a symlink planted in its place is removed (unlink does not follow), never its target touched.
  std::filesystem::path marker = dir_ / kUnreachableMarker;
  constexpr int kFlags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  UniqueFd fd(open(marker.c_str(), kFlags, 0600));
  if (!fd && errno == ELOOP && unlink(marker.c_str()) == 0) fd = UniqueFd(open(marker.c_str(), kFlags, 0600));
  struct stat st {};
  if (fd && fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) futimens(fd.get(), nullptr);
}

void Spool::mark_reachable() const {
  std::error_code ec;
  std::filesystem::remove(dir_ / kUnreachableMarker, ec);
}

bool Spool::recently_unreachable(std::chrono::seconds window) const {
  // Only a regular file counts as the marker: a symlink is not followed to borrow another file's mtime.
  UniqueFd fd(open((dir_ / kUnreachableMarker).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  auto modified = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  auto age = std::chrono::system_clock::now() - modified;
  return age >= std::chrono::system_clock::duration::zero() && age < window && !empty();
}

std::string Spool::last_acked_by() const {
  // Like the marker: a regular file only, never a symlink followed, and at most one endpoint long.
  UniqueFd fd(open((dir_ / kAckedByFile).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  std::string text(kMaxEndpointBytes, '\0');
  ssize_t got = ::read(fd.get(), text.data(), text.size());
  if (got <= 0) return {};
  text.resize(static_cast<std::size_t>(got));
  return text;
}

void Spool::set_last_acked_by(const std::string& endpoint) const {
  if (endpoint.size() > kMaxEndpointBytes) return;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  try {  // a rename: a symlink planted in its place is replaced, its target never written
    write_file_atomically(dir_ / kAckedByFile, endpoint, 0600);
  } catch (const RuntimeError&) {
    // Not worth failing a publish over (see the header).
  }
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
    if (is_spool_file(*it) && !it->is_symlink()) total += it->file_size(ec);
  }
  return total;
}

}  // namespace fleetban::common
