// bench_stamp FILE WORD...: appends "<CLOCK_REALTIME ns> WORD...\n" to FILE in one write.
// The exec backend's ban_command in P2 (propagation): as cheap as a process can be (libc only,
// linked statically where possible), so the stamp measures fleetban, not the hook.

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  if (argc < 2) return 2;
  char line[512];
  int n = std::snprintf(line, sizeof line, "%lld", static_cast<long long>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec);
  for (int i = 2; i < argc && n > 0 && static_cast<std::size_t>(n) < sizeof line - 2; ++i) {
    n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), " %s", argv[i]);
  }
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof line - 1) return 1;
  line[n++] = '\n';
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return 1;
  bool ok = write(fd, line, static_cast<std::size_t>(n)) == n;
  close(fd);
  return ok ? 0 : 1;
}
