#pragma once
// Durable writes: a temporary file in the same directory, fsync, rename, fsync of the directory.
// A reader sees the old file or the whole new one, never a part, even after a crash.

#include <sys/types.h>
#include <filesystem>
#include <string_view>

namespace fleetban::common {

// Throws RuntimeError (naming the file and the errno text) on any failure, and leaves no temp file.
void write_file_atomically(const std::filesystem::path& file, std::string_view content, mode_t mode = 0644);

}  // namespace fleetban::common
