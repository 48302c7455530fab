#include "common/keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"
#include "common/unique_fd.hpp"

namespace fleetban::common {

namespace {

constexpr std::size_t kZ85KeyLength = 40;

// Checks one key's text: a single line of 40 Z85 characters.
std::string checked_key_text(const std::filesystem::path& file, std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  std::array<std::uint8_t, 32> decoded{};
  if (text.size() != kZ85KeyLength || zmq_z85_decode(decoded.data(), text.c_str()) == nullptr) {
    throw UsageError(file.string() + ": not a CURVE key (expected one line of 40 Z85 characters)");
  }
  return text;
}

std::string read_key_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw UsageError(file.string() + ": cannot read key file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return checked_key_text(file, buffer.str());
}

// Reads a secret key file the way ssh does, with the checks made on the opened file itself so that
// nothing can swap the file between the check and the read: no symlink (O_NOFOLLOW), a regular file
// owned by the running user or root, and no access for group or others.
std::string read_secret_key_text(const std::filesystem::path& file) {
  int fd = open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int error = errno;
    if (error == ELOOP) {
      throw UsageError(file.string() +
                       ": secret key is a symbolic link; point the config at the real file (readlink -f " +
                       file.string() + ")");
    }
    throw UsageError(file.string() + ": cannot read key file: " + std::strerror(error));
  }
  UniqueFd owned(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0) throw UsageError(file.string() + ": cannot read key file: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw UsageError(file.string() + ": secret key is not a regular file");
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    throw UsageError(file.string() + ": secret key is owned by uid " + std::to_string(st.st_uid) +
                     ", not by the user running this program (uid " + std::to_string(geteuid()) +
                     ") or root; run: chown " + std::to_string(geteuid()) + " " + file.string());
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw UsageError(file.string() + ": secret key is accessible by group or others; run: chmod 600 " + file.string());
  }
  auto text = read_all(fd, 1024);  // a key is one short line: more is not a key
  if (!text) throw UsageError(file.string() + ": cannot read key file: " + std::strerror(errno));
  return checked_key_text(file, std::move(*text));
}

}  // namespace

KeyPair generate_keypair() {
  std::array<char, kZ85KeyLength + 1> public_key{};
  std::array<char, kZ85KeyLength + 1> secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    throw RuntimeError("cannot generate a CURVE key pair: libzmq was built without CURVE");
  }
  return {public_key.data(), secret_key.data()};
}

std::pair<std::filesystem::path, std::filesystem::path> write_keypair(const std::filesystem::path& dir,
                                                                      const std::string& name) {
  std::filesystem::path secret_path = dir / (name + ".key");
  std::filesystem::path public_path = dir / (name + ".pub");
  if (std::filesystem::exists(secret_path)) {
    throw UsageError(secret_path.string() + ": already exists; remove it first to replace the key");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw RuntimeError(dir.string() + ": cannot create directory: " + ec.message());
  KeyPair keys = generate_keypair();
  write_file_atomically(secret_path, keys.secret_key + "\n", 0600);
  write_file_atomically(public_path, keys.public_key + "\n", 0644);
  return {secret_path, public_path};
}

std::string read_public_key(const std::filesystem::path& file) { return read_key_text(file); }

KeyPair read_secret_key(const std::filesystem::path& file) {
  KeyPair keys;
  keys.secret_key = read_secret_key_text(file);
  std::array<char, kZ85KeyLength + 1> public_key{};
  if (zmq_curve_public(public_key.data(), keys.secret_key.c_str()) != 0) {
    throw UsageError(file.string() + ": cannot derive the public key from this secret key");
  }
  keys.public_key = public_key.data();
  return keys;
}

}  // namespace fleetban::common
