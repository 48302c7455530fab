#include "common/spool.hpp"

#include <gtest/gtest.h>

#include "common/codec.hpp"
#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::common;
using fleetban::testing::TempDir;
namespace fs = std::filesystem;

constexpr std::int64_t kMs = 1'795'652'765'000;

Event event_created_at(std::int64_t created_ms, std::string_view ip = "192.0.2.7") {
  Event e;
  e.id = random_event_id();
  e.kind = EventKind::ban;
  e.prefix = *IpPrefix::parse(ip);
  e.jail = "sshd";
  e.host_id = "web-01";
  e.bantime = std::chrono::seconds(600);
  e.failures = 3;
  e.time = from_unix_ms(created_ms - 5);
  e.created = from_unix_ms(created_ms);
  return e;
}

TEST(Spool, PutListReadRoundTrip) {
  TempDir dir;
  Spool spool(dir / "spool", 1 << 20);
  Event event = event_created_at(kMs);
  event.reason = "r";
  auto put = spool.put(event);
  ASSERT_TRUE(put) << put.error();
  EXPECT_EQ(put->parent_path(), dir / "spool");

  auto files = spool.list();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], *put);

  auto read = spool.read(files[0]);
  EXPECT_TRUE(read.error.empty()) << read.error;
  ASSERT_TRUE(read.event);
  EXPECT_EQ(read.event->id, event.id);
  EXPECT_EQ(read.event->prefix, event.prefix);
  EXPECT_EQ(read.event->jail, event.jail);
  EXPECT_EQ(read.event->host_id, event.host_id);
  EXPECT_EQ(read.event->bantime, event.bantime);
  EXPECT_EQ(read.event->failures, event.failures);
  EXPECT_EQ(read.event->time, event.time);
  EXPECT_EQ(read.event->created, event.created);
  EXPECT_EQ(read.event->reason, "r");
}

TEST(Spool, SpooledFilesAreReadableOnlyByTheOwner) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  auto put = spool.put(event_created_at(kMs));
  ASSERT_TRUE(put) << put.error();
  auto perms = fs::status(*put).permissions();
  EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
}

TEST(Spool, ListIsOldestFirstByCreationTime) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  // Put out of order; the oldest has a millisecond stamp of one digit fewer (2001).
  Event middle = event_created_at(kMs);
  Event newest = event_created_at(kMs + 1);
  Event oldest = event_created_at(999'999'999'000);
  ASSERT_TRUE(spool.put(middle));
  ASSERT_TRUE(spool.put(newest));
  ASSERT_TRUE(spool.put(oldest));
  auto files = spool.list();
  ASSERT_EQ(files.size(), 3u);
  std::vector<EventId> order;
  for (const auto& f : files) {
    auto read = spool.read(f);
    ASSERT_TRUE(read.event) << read.error;
    order.push_back(read.event->id);
  }
  EXPECT_EQ(order, (std::vector<EventId>{oldest.id, middle.id, newest.id}));
}

TEST(Spool, EventsOfTheSameMillisecondAreAllKept) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(spool.put(event_created_at(kMs)));
  EXPECT_EQ(spool.list().size(), 5u);
}

TEST(Spool, ListIgnoresTemporaryForeignAndBadFiles) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  ASSERT_TRUE(spool.put(event_created_at(kMs)));
  dir.write(".0001795652765000-abc.event.tmp-123456", "partial");
  dir.write(".hidden.event", "partial");
  dir.write("notes.txt", "hello");
  fs::create_directories(dir / "bad");
  dir.write("bad/0001795652765000-00.event", "junk");
  fs::create_directories(dir / "dir.event");
  EXPECT_EQ(spool.list().size(), 1u);
}

TEST(Spool, ListOfAMissingDirectoryIsEmpty) {
  TempDir dir;
  Spool spool(dir / "never-created", 0);
  EXPECT_TRUE(spool.list().empty());
  EXPECT_EQ(spool.size_bytes(), 0u);
}

TEST(Spool, FullSpoolFailsNamingTheLimit) {
  TempDir dir;
  std::uint64_t one = encode_event(event_created_at(kMs)).size();
  std::uint64_t limit = one + one / 2;
  Spool spool(dir.path(), limit);
  ASSERT_TRUE(spool.put(event_created_at(kMs)));
  auto second = spool.put(event_created_at(kMs + 1));
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find(std::to_string(limit)), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("full"), std::string::npos) << second.error();
  EXPECT_EQ(spool.list().size(), 1u);  // nothing half-written is left behind
}

TEST(Spool, SpoolExactlyAtTheLimitAcceptsTheLastEvent) {
  TempDir dir;
  std::uint64_t one = encode_event(event_created_at(kMs)).size();
  Spool spool(dir.path(), 2 * one);
  EXPECT_TRUE(spool.put(event_created_at(kMs)));
  EXPECT_TRUE(spool.put(event_created_at(kMs + 1)));
  EXPECT_FALSE(spool.put(event_created_at(kMs + 2)));
  EXPECT_EQ(spool.size_bytes(), 2 * one);
}

TEST(Spool, LimitIsExactBeyondWhatTheFileCountAloneProves) {
  // Far from the limit the spool counts files (each at most kMaxEncodedEventBytes); near it, it
  // adds up their sizes. Either way it fills to exactly what fits.
  TempDir dir;
  std::uint64_t one = encode_event(event_created_at(kMs)).size();
  ASSERT_LT(one, kMaxEncodedEventBytes);
  Spool spool(dir.path(), 3 * kMaxEncodedEventBytes);
  std::uint64_t accepted = 0;
  while (spool.put(event_created_at(kMs + static_cast<std::int64_t>(accepted)))) ++accepted;
  EXPECT_EQ(accepted, 3 * kMaxEncodedEventBytes / one);
  EXPECT_LE(spool.size_bytes(), 3 * kMaxEncodedEventBytes);
}

TEST(Spool, RemovingAFileMakesRoom) {
  TempDir dir;
  std::uint64_t one = encode_event(event_created_at(kMs)).size();
  Spool spool(dir.path(), one);
  ASSERT_TRUE(spool.put(event_created_at(kMs)));
  ASSERT_FALSE(spool.put(event_created_at(kMs + 1)));
  spool.remove(spool.list().at(0));
  EXPECT_TRUE(spool.list().empty());
  EXPECT_TRUE(spool.put(event_created_at(kMs + 1)));
}

TEST(Spool, ZeroLimitMeansNoLimit) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(spool.put(event_created_at(kMs + i)));
  EXPECT_EQ(spool.list().size(), 20u);
}

TEST(Spool, CorruptFileIsMovedAsideAndReported) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  auto file = dir.write("0001795652765000-0123456789abcdef0123456789abcdef.event", "this is not an event");
  ASSERT_EQ(spool.list().size(), 1u);
  Spool::ReadResult read;
  ASSERT_NO_THROW(read = spool.read(file));
  EXPECT_FALSE(read.event);
  EXPECT_NE(read.error.find(file.string()), std::string::npos) << read.error;
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::exists(dir / "bad" / file.filename()));
  EXPECT_TRUE(spool.list().empty());
}

TEST(Spool, RefusedEventIsSetAsideWithItsReason) {
  TempDir dir;
  Spool spool(dir / "spool", 0);
  auto first = spool.put(event_created_at(kMs));
  auto second = spool.put(event_created_at(kMs + 1));
  ASSERT_TRUE(first && second);
  auto moved = spool.set_aside(*first, "time 100 (unix seconds) is before 2000");
  ASSERT_TRUE(moved) << moved.error();
  EXPECT_EQ(*moved, dir / "spool" / "bad" / first->filename());
  EXPECT_TRUE(fs::exists(*moved));
  EXPECT_FALSE(fs::exists(*first));
  fs::path reason = *moved;
  reason += ".reason";
  EXPECT_EQ(fleetban::testing::read_text(reason), "time 100 (unix seconds) is before 2000\n");
  EXPECT_EQ(spool.list(), std::vector<fs::path>{*second});
}

// Two drains (the subscriber's and a publish's) can race for one file: the one that loses finds it
// gone, and must not leave a .reason without its event in bad/ (the reliability test counts bad/).
TEST(Spool, SettingAsideAFileAnotherDrainRemovedLeavesNothingInBad) {
  TempDir dir;
  Spool spool(dir / "spool", 0);
  auto file = spool.put(event_created_at(kMs));
  ASSERT_TRUE(file);
  spool.remove(*file);
  EXPECT_FALSE(spool.set_aside(*file, "refused"));
  EXPECT_TRUE(!fs::exists(dir / "spool" / "bad") || fs::is_empty(dir / "spool" / "bad"));
}

TEST(Spool, UnreadableFileIsMovedAsideWithItsReason) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  auto file = dir.write("0001795652765000-0123456789abcdef0123456789abcdef.event", "this is not an event");
  auto read = spool.read(file);
  EXPECT_FALSE(read.event);
  std::string reason = fleetban::testing::read_text(dir / "bad" / (file.filename().string() + ".reason"));
  EXPECT_NE(reason.find("not a valid event"), std::string::npos) << reason;
}

TEST(Spool, EmptyAndInvalidEventFilesAreMovedAside) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  Event invalid = event_created_at(kMs);
  invalid.jail = "bad jail";  // encodes, but never decodes
  auto empty = dir.write("0000000000000001-a.event", "");
  auto bad = dir.write("0000000000000002-b.event", encode_event(invalid));
  for (const auto& file : {empty, bad}) {
    auto read = spool.read(file);
    EXPECT_FALSE(read.event) << file;
    EXPECT_FALSE(read.error.empty()) << file;
    EXPECT_TRUE(fs::exists(dir / "bad" / file.filename())) << file;
  }
}

TEST(Spool, OversizedFileIsMovedAside) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  auto file = dir.write("0001795652765000-big.event", std::string(65 * 1024, '\0'));
  auto read = spool.read(file);
  EXPECT_FALSE(read.event);
  EXPECT_FALSE(read.error.empty());
  EXPECT_TRUE(fs::exists(dir / "bad" / file.filename()));
}

TEST(Spool, VanishedFileReadsAsNoEventAndNoError) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  auto put = spool.put(event_created_at(kMs));
  ASSERT_TRUE(put);
  fs::remove(*put);  // another process sent it meanwhile
  Spool::ReadResult read;
  ASSERT_NO_THROW(read = spool.read(*put));
  EXPECT_FALSE(read.event);
  EXPECT_TRUE(read.error.empty()) << read.error;
  EXPECT_FALSE(fs::exists(dir / "bad"));
}

TEST(Spool, DirectoryThatCannotBeCreatedIsAFailureNotAThrow) {
  TempDir dir;
  auto blocker = dir.write("file", "x");
  Spool spool(blocker / "spool", 0);
  Expected<fs::path> put = Failure{"not run"};
  ASSERT_NO_THROW(put = spool.put(event_created_at(kMs)));
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().find((blocker / "spool").string()), std::string::npos) << put.error();
}

TEST(Spool, SizeCountsOnlySpooledEvents) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  ASSERT_TRUE(spool.put(event_created_at(kMs)));
  std::uint64_t one = encode_event(event_created_at(kMs)).size();
  dir.write("notes.txt", std::string(1000, 'x'));
  EXPECT_EQ(spool.size_bytes(), one);
}

TEST(Spool, UnreachableMarkerCountsOnlyWithEventsWaitingAndWithinTheWindow) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  EXPECT_FALSE(spool.recently_unreachable(std::chrono::seconds(10)));
  spool.mark_unreachable();
  EXPECT_FALSE(spool.recently_unreachable(std::chrono::seconds(10)));  // nothing spooled: probe anyway
  ASSERT_TRUE(spool.put(event_created_at(kMs)));
  EXPECT_TRUE(spool.recently_unreachable(std::chrono::seconds(10)));
  EXPECT_FALSE(spool.recently_unreachable(std::chrono::seconds(0)));
  EXPECT_EQ(spool.list().size(), 1u);  // the marker is not an event
  EXPECT_EQ(spool.size_bytes(), encode_event(event_created_at(kMs)).size());
  spool.mark_reachable();
  EXPECT_FALSE(spool.recently_unreachable(std::chrono::seconds(10)));
}

TEST(Spool, OldUnreachableMarkerIsIgnored) {
  TempDir dir;
  Spool spool(dir.path(), 0);
  ASSERT_TRUE(spool.put(event_created_at(kMs)));
  spool.mark_unreachable();
  bool marked = false;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().filename().string().starts_with(".")) {
      fs::last_write_time(entry.path(), fs::file_time_type::clock::now() - std::chrono::seconds(60));
      marked = true;
    }
  }
  ASSERT_TRUE(marked) << "mark_unreachable() left no marker file";
  EXPECT_FALSE(spool.recently_unreachable(std::chrono::seconds(10)));
  EXPECT_TRUE(spool.recently_unreachable(std::chrono::seconds(120)));
}

TEST(Spool, EmptyMeansNoEventsWaiting) {
  TempDir dir;
  Spool spool(dir / "spool", 0);
  EXPECT_TRUE(spool.empty());
  auto put = spool.put(event_created_at(kMs));
  ASSERT_TRUE(put);
  EXPECT_FALSE(spool.empty());
  spool.remove(*put);
  EXPECT_TRUE(spool.empty());
}

// A file outside the spool that a planted symlink points at, holding a valid encoded event.
struct OutsideTarget {
  fs::path file;
  std::string content;
};

OutsideTarget outside_event_file(const TempDir& dir) {
  fs::create_directories(dir / "elsewhere");
  OutsideTarget target{dir / "elsewhere" / "secret", encode_event(event_created_at(kMs))};
  dir.write("elsewhere/secret", target.content);
  fs::last_write_time(target.file, fs::file_time_type::clock::now() - std::chrono::hours(1));
  return target;
}

TEST(Spool, SymlinkPlantedAsASpoolFileIsNeverFollowed) {
  TempDir dir;
  Spool spool(dir / "spool", 0);
  OutsideTarget target = outside_event_file(dir);
  fs::create_directories(dir / "spool");
  fs::path link = dir / "spool" / "0000000000000001-planted.event";
  fs::create_symlink(target.file, link);

  ASSERT_EQ(spool.list(), std::vector<fs::path>{link});  // listed, so that it is moved aside
  auto result = spool.read(link);
  EXPECT_FALSE(result.event) << "the symlink's target was read as an event";
  EXPECT_NE(result.error.find("symbolic link"), std::string::npos) << result.error;
  EXPECT_TRUE(fs::is_symlink(dir / "spool" / "bad" / link.filename()));
  EXPECT_EQ(fleetban::testing::read_text(target.file), target.content);
  EXPECT_TRUE(spool.list().empty());
}

TEST(Spool, PutOverAPlantedSymlinkReplacesTheLinkNotItsTarget) {
  TempDir dir;
  Spool spool(dir / "spool", 0);
  OutsideTarget target = outside_event_file(dir);
  Event event = event_created_at(kMs + 1);
  auto first = spool.put(event);
  ASSERT_TRUE(first) << first.error();
  fs::remove(*first);
  fs::create_symlink(target.file, *first);
  auto second = spool.put(event);
  ASSERT_TRUE(second) << second.error();
  EXPECT_FALSE(fs::is_symlink(*second));
  EXPECT_EQ(fleetban::testing::read_text(target.file), target.content);
}

TEST(Spool, SymlinkPlantedAsTheUnreachableMarkerIsNeverFollowed) {
  TempDir dir;
  Spool spool(dir.path() / "spool", 0);
  ASSERT_TRUE(spool.put(event_created_at(kMs)));
  OutsideTarget target = outside_event_file(dir);
  auto target_mtime = fs::last_write_time(target.file);
  fs::path marker = dir / "spool" / ".aggregator-unreachable";

  // A fresh target must not make the spool look recently unreachable through the link.
  fs::create_symlink(target.file, marker);
  fs::last_write_time(target.file, fs::file_time_type::clock::now());
  EXPECT_FALSE(spool.recently_unreachable(std::chrono::seconds(3600)));
  fs::last_write_time(target.file, target_mtime);

  // Marking replaces the link with a marker of its own; the target is neither written nor touched.
  spool.mark_unreachable();
  EXPECT_FALSE(fs::is_symlink(marker));
  EXPECT_TRUE(fs::is_regular_file(marker));
  EXPECT_EQ(fleetban::testing::read_text(target.file), target.content);
  EXPECT_EQ(fs::last_write_time(target.file), target_mtime);
  EXPECT_TRUE(spool.recently_unreachable(std::chrono::seconds(3600)));
}

TEST(Spool, RemembersTheEndpointThatAckedLast) {
  TempDir dir;
  Spool spool(dir.path() / "spool", 0);
  EXPECT_EQ(spool.last_acked_by(), "");
  spool.set_last_acked_by("tcp://198.51.100.6:7780");
  EXPECT_EQ(spool.last_acked_by(), "tcp://198.51.100.6:7780");
  spool.set_last_acked_by("tcp://198.51.100.5:7780");
  EXPECT_EQ(spool.last_acked_by(), "tcp://198.51.100.5:7780");
  EXPECT_TRUE(spool.list().empty());  // bookkeeping, not an event
  EXPECT_TRUE(spool.empty());
}

TEST(Spool, SymlinkPlantedAsTheLastAckedByIsNeverFollowed) {
  TempDir dir;
  Spool spool(dir.path() / "spool", 0);
  spool.set_last_acked_by("tcp://198.51.100.6:7780");
  OutsideTarget target = outside_event_file(dir);
  fs::path remembered = dir / "spool" / ".acked-by";
  fs::remove(remembered);
  fs::create_symlink(target.file, remembered);
  EXPECT_EQ(spool.last_acked_by(), "");
  spool.set_last_acked_by("tcp://198.51.100.5:7780");
  EXPECT_FALSE(fs::is_symlink(remembered));
  EXPECT_EQ(fleetban::testing::read_text(target.file), target.content);
  EXPECT_EQ(spool.last_acked_by(), "tcp://198.51.100.5:7780");
}

}  // namespace
