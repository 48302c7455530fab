#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/errors.hpp"

namespace fleetban::common {

namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const char* what, int error) {
  throw RuntimeError(file.string() + ": " + what + ": " + std::strerror(error));
}

}  // namespace

void write_file_atomically(const std::filesystem::path& file, std::string_view content, mode_t mode) {
  std::filesystem::path dir = file.parent_path().empty() ? "." : file.parent_path();
  // The leading dot keeps readers that list the directory (the spool) from picking up a half-written file.
  std::string temp = (dir / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
  int fd = mkstemp(temp.data());
  if (fd < 0) fail(file, "cannot create temporary file", errno);
  auto abandon = [&](const char* what) {
    int error = errno;
    close(fd);
    unlink(temp.c_str());
    fail(file, what, error);
  };
  if (fchmod(fd, mode) != 0) abandon("cannot set mode");
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t written = write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      abandon("cannot write");
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  if (fsync(fd) != 0) abandon("cannot fsync");
  if (close(fd) != 0) {
    int error = errno;
    unlink(temp.c_str());
    fail(file, "cannot close", error);
  }
  if (rename(temp.c_str(), file.c_str()) != 0) {
    int error = errno;
    unlink(temp.c_str());
    fail(file, "cannot rename into place", error);
  }
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    fsync(dir_fd);  // makes the rename itself durable
    close(dir_fd);
  }
}

}  // namespace fleetban::common
