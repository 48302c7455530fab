#pragma once
// The spool: events the aggregator has not acked yet, one file each, named so that a directory
// listing sorted by name is oldest first. Written durably (atomic_file.hpp).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/event.hpp"
#include "common/expected.hpp"

namespace fleetban::common {

class Spool {
 public:
  Spool(std::filesystem::path dir, std::uint64_t max_bytes);

  // Durably stores the event. A full spool (max_bytes) or a failing disk comes back as a Failure,
  // which the caller must report loudly: the event is then lost to the fleet.
  Expected<std::filesystem::path> put(const Event& event) const;

  // Spooled files, oldest first.
  std::vector<std::filesystem::path> list() const;

  // Reads one spooled event. A file that is gone (another process sent it) gives no event and no
  // error; one that cannot be read or decoded is moved to DIR/bad/ and reported, never thrown.
  struct ReadResult {
    std::optional<Event> event;
    std::string error;  // set when the file was bad and has been moved aside
  };
  ReadResult read(const std::filesystem::path& file) const;

  void remove(const std::filesystem::path& file) const;

  // Moves a file the aggregator refused (or that cannot be read) to DIR/bad/, with its reason in
  // NAME.reason beside it, where an operator can look; the drain then goes on past it. Returns
  // where it went, or why it could not be moved.
  Expected<std::filesystem::path> set_aside(const std::filesystem::path& file, const std::string& reason) const;

  std::uint64_t size_bytes() const;
  bool empty() const;

  // The aggregator did not answer: remembered as a marker file in the spool, so that the next
  // publishes (each a new process) go straight to the spool instead of each waiting timeout_ms.
  void mark_unreachable() const;
  void mark_reachable() const;
  // True when the spool holds events and the last failure is younger than `window`.
  bool recently_unreachable(std::chrono::seconds window) const;
  const std::filesystem::path& dir() const { return dir_; }

  // With several endpoints, the one that acked last (a publish tries it first): remembered in the
  // spool as the endpoint itself, so an edited list never points a publish elsewhere. "" if none.
  std::string last_acked_by() const;
  // Best effort: a failure to remember costs the next publish a detour, nothing else.
  void set_last_acked_by(const std::string& endpoint) const;

 private:
  // Whether `bytes` more stay within max_bytes. Cheap while the spool is far from full.
  bool has_room_for(std::size_t bytes) const;
  std::uint64_t count() const;  // spooled files, from the names alone

  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
};

}  // namespace fleetban::common
