// The store's checkpointer: the WAL is copied back into the database by a thread and connection of
// its own, not inside a commit on the ack path (SQLite's automatic checkpoint is replaced). This
// checks it does happen, or the WAL would grow for ever, and that the WAL file is cut down to its
// limit afterwards; that commits never wait for it is timing, which bench/ P2 measures.

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
  // 24,000 records of 3 KiB in one commit: some 24,000 WAL pages (~100 MB), past the checkpoint
  // threshold and past the WAL's size limit.
  constexpr int kRecords = 24'000;
  store.begin();
  for (int i = 0; i < kRecords; ++i) {
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
  store.set_sequence(kRecords);
  store.commit();
  const auto wal = dir.path() / "state.db-wal";
  EXPECT_GT(size_or_zero(wal), static_cast<std::uintmax_t>(Store::kWalSizeLimit));
  // Until a checkpoint, the pages are in state.db-wal only.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (size_or_zero(file) < 60'000'000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(size_or_zero(file), 60'000'000u) << "state.db-wal holds " << size_or_zero(wal);
  // And the store goes on committing meanwhile. Once the checkpoint has caught up with the WAL, the
  // next commit starts it over and cuts the file down to the limit: a burst does not leave a WAL
  // of its size on disk for good.
  bool cut = false;
  for (std::uint64_t sequence = kRecords + 1; !cut && std::chrono::steady_clock::now() < deadline; ++sequence) {
    store.begin();
    store.set_sequence(sequence);
    store.commit();
    cut = size_or_zero(wal) <= static_cast<std::uintmax_t>(Store::kWalSizeLimit);
    if (!cut) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(cut) << "state.db-wal still holds " << size_or_zero(wal) << " bytes";
}

}  // namespace
