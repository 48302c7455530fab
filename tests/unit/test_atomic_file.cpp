// Durable writes (common/atomic_file.hpp): the content and mode asked for, the old file replaced
// whole, and on failure an error naming the file with no temporary file left behind.

#include "common/atomic_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "temp_dir.hpp"

namespace {

using fleetban::common::RuntimeError;
using fleetban::common::write_file_atomically;
using fleetban::testing::TempDir;
namespace fs = std::filesystem;

std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

mode_t mode_of(const fs::path& file) {
  struct stat st {};
  EXPECT_EQ(stat(file.c_str(), &st), 0) << file;
  return st.st_mode & 07777;
}

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFile, WritesTheContentWithTheModeAsked) {
  TempDir dir;
  write_file_atomically(dir / "a", std::string("bytes\0and more", 14), 0600);
  EXPECT_EQ(read(dir / "a"), std::string("bytes\0and more", 14));
  EXPECT_EQ(mode_of(dir / "a"), 0600u);
  write_file_atomically(dir / "b", "");
  EXPECT_EQ(read(dir / "b"), "");
  EXPECT_EQ(mode_of(dir / "b"), 0644u);  // the default, whatever the umask
  EXPECT_EQ(entries(dir.path()), 2u);    // no temporary file left
}

TEST(AtomicFile, ReplacesAnOldFileWhole) {
  TempDir dir;
  write_file_atomically(dir / "state", std::string(100'000, 'o'));
  write_file_atomically(dir / "state", "new", 0640);
  EXPECT_EQ(read(dir / "state"), "new");
  EXPECT_EQ(mode_of(dir / "state"), 0640u);
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, ReplacingASymlinkReplacesTheLinkNotItsTarget) {
  TempDir dir;
  write_file_atomically(dir / "target", "target");
  fs::create_symlink(dir / "target", dir / "link");
  write_file_atomically(dir / "link", "new");
  EXPECT_EQ(read(dir / "target"), "target");
  EXPECT_FALSE(fs::is_symlink(dir / "link"));
  EXPECT_EQ(read(dir / "link"), "new");
}

TEST(AtomicFile, MissingDirectoryIsAnErrorNamingTheFile) {
  TempDir dir;
  try {
    write_file_atomically(dir / "no-such-dir" / "f", "x");
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "no-such-dir" / "f").string()), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, FailedRenameLeavesNoTemporaryFile) {
  TempDir dir;
  fs::create_directory(dir / "taken");  // a directory cannot be replaced by a file
  fs::create_directory(dir / "taken" / "inside");
  EXPECT_THROW(write_file_atomically(dir / "taken", "x"), RuntimeError);
  EXPECT_EQ(entries(dir.path()), 1u);
  EXPECT_TRUE(fs::is_directory(dir / "taken"));
}

TEST(AtomicFile, UnwritableDirectoryIsAnError) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes into a read-only directory anyway";
  TempDir dir;
  fs::create_directory(dir / "ro");
  fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(write_file_atomically(dir / "ro" / "f", "x"), RuntimeError);
  fs::permissions(dir / "ro", fs::perms::owner_all);
}

}  // namespace
