#include "common/keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::common;
using fleetban::testing::TempDir;
namespace fs = std::filesystem;

// The UsageError message read_secret_key throws for `file`, or "" when it accepts it.
std::string refusal(const fs::path& file) {
  try {
    read_secret_key(file);
    return "";
  } catch (const UsageError& e) {
    return e.what();
  }
}

TEST(Keys, GoodSecretKeyIsAccepted) {
  TempDir dir;
  auto [secret, pub] = write_keypair(dir.path(), "web-01");
  KeyPair keys = read_secret_key(secret);
  EXPECT_EQ(keys.public_key, read_public_key(pub));
  EXPECT_EQ(keys.secret_key.size(), 40u);
}

TEST(Keys, SymlinkToSecretKeyIsRefused) {
  TempDir dir;
  auto [secret, pub] = write_keypair(dir.path(), "web-01");
  fs::create_symlink(secret, dir / "link.key");
  std::string message = refusal(dir / "link.key");
  EXPECT_NE(message.find((dir / "link.key").string()), std::string::npos) << message;
  EXPECT_NE(message.find("symbolic link"), std::string::npos) << message;
}

TEST(Keys, SecretKeyOwnedByAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the key file to another user";
  TempDir dir;
  auto [secret, pub] = write_keypair(dir.path(), "web-01");
  ASSERT_EQ(chown(secret.c_str(), 65534, 65534), 0);
  std::string message = refusal(secret);
  EXPECT_NE(message.find(secret.string()), std::string::npos) << message;
  EXPECT_NE(message.find("owned by uid 65534"), std::string::npos) << message;
  EXPECT_NE(message.find("chown"), std::string::npos) << message;
}

TEST(Keys, SecretKeyReadableByOthersIsRefused) {
  TempDir dir;
  auto [secret, pub] = write_keypair(dir.path(), "web-01");
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_NE(refusal(secret).find("chmod 600"), std::string::npos) << refusal(secret);
}

TEST(Keys, SecretKeyThatIsNotAFileIsRefused) {
  TempDir dir;
  fs::create_directory(dir / "dir.key");
  fs::permissions(dir / "dir.key", fs::perms::owner_all);
  EXPECT_NE(refusal(dir / "dir.key").find("not a regular file"), std::string::npos) << refusal(dir / "dir.key");
}

}  // namespace
