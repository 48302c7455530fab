#include "common/keys.hpp"

#include <sys/stat.h>
#include <zmq.h>

#include <array>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"

namespace fleetban::common {

namespace {

constexpr std::size_t kZ85KeyLength = 40;

std::string read_key_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw UsageError(file.string() + ": cannot read key file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  std::array<std::uint8_t, 32> decoded{};
  if (text.size() != kZ85KeyLength || zmq_z85_decode(decoded.data(), text.c_str()) == nullptr) {
    throw UsageError(file.string() + ": not a CURVE key (expected one line of 40 Z85 characters)");
  }
  return text;
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
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) throw UsageError(file.string() + ": cannot read key file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw UsageError(file.string() + ": secret key is accessible by group or others; run: chmod 600 " + file.string());
  }
  KeyPair keys;
  keys.secret_key = read_key_text(file);
  std::array<char, kZ85KeyLength + 1> public_key{};
  if (zmq_curve_public(public_key.data(), keys.secret_key.c_str()) != 0) {
    throw UsageError(file.string() + ": cannot derive the public key from this secret key");
  }
  keys.public_key = public_key.data();
  return keys;
}

}  // namespace fleetban::common
