// The store's checkpointer: the WAL is copied back into the database by a thread and connection of
// its own, not inside a commit on the ack path (SQLite's automatic checkpoint is replaced). This
// checks it does happen, or the WAL would grow for ever; that commits never wait for it is timing,
// which bench/ P2 measures.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "aggregator/store.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using fleetban::testing::TempDir;

std::uintmax_t size_or_zero(const std::filesystem::path& file) {
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  return ec ? 0 : size;
}

TEST(StoreCheckpoint, TheWalIsCopiedIntoTheDatabaseBesideTheCommits) {
  TempDir dir;
  const auto file = dir.path() / "state.db";
  Store store(file);
  // 12,000 records of 3 KiB: some 12,000 WAL pages, past the checkpoint threshold, in one commit.
  store.begin();
  for (int i = 0; i < 12'000; ++i) {
    char address[48];
    std::snprintf(address, sizeof address, "2001:db8:1::%x", i + 1);
    FleetRecord record;
    record.decision.sequence = static_cast<std::uint64_t>(i + 1);
    record.decision.prefix = *IpPrefix::parse(address);
    record.decision.active = true;
    record.decision.banned_at = from_unix(1'795'650'000);
    record.decision.reason = std::string(3000, 'r');
    store.put(record);
  }
  store.set_sequence(12'000);
  store.commit();
  // Until a checkpoint, the pages are in state.db-wal only.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (size_or_zero(file) < 30'000'000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(size_or_zero(file), 30'000'000u) << "state.db-wal holds " << size_or_zero(dir.path() / "state.db-wal");
  // And the store goes on committing meanwhile.
  store.begin();
  store.set_sequence(12'001);
  store.commit();
}

}  // namespace
