#pragma once
// CURVE key files: NAME.key holds the Z85 secret key (mode 0600), NAME.pub the Z85 public key.

#include <filesystem>
#include <string>

namespace fleetban::common {

struct KeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

KeyPair generate_keypair();

// Writes DIR/NAME.key (0600, never over an existing file) and DIR/NAME.pub; returns their paths.
std::pair<std::filesystem::path, std::filesystem::path> write_keypair(const std::filesystem::path& dir,
                                                                      const std::string& name);

// Both throw UsageError naming the file when it is missing or does not hold one Z85 key.
std::string read_public_key(const std::filesystem::path& file);
// Also refuses, as ssh does, a secret key file that group or others can read, one owned by
// another user than the running one or root, and a symbolic link.
KeyPair read_secret_key(const std::filesystem::path& file);

}  // namespace fleetban::common
