// bench_log_sink: the floor of P2's log rows, the least a host can do to receive a broadcast and
// log it. A CURVE SUB (libzmq and libc only: no protobuf, no logging library, no Clone logic) that
// receives every message and appends "<CLOCK_REALTIME us> <message>\n" to OUT_FILE, one write per
// message, as fleetban-subscriber's log backend writes one line per decision. P2 runs N of them,
// each its own process with its own libzmq context, beside its log rows: what N processes that
// each wake for a message and write a line cost this machine, against what fleetban adds.
//
//   bench_log_sink ENDPOINT SERVER_PUB_FILE CLIENT_KEY_FILE OUT_FILE
//
// Messages are text without a newline (the driver's "<seq> <sent_us> <padding>"). Runs until
// SIGTERM.

#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace {

volatile std::sig_atomic_t stopping = 0;

void on_term(int) { stopping = 1; }

// A Z85 key file: 40 characters, then perhaps a newline.
bool read_key(const char* path, char (&key)[41]) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  std::size_t n = std::fread(key, 1, 40, f);
  std::fclose(f);
  key[40] = '\0';
  return n == 40;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: bench_log_sink ENDPOINT SERVER_PUB_FILE CLIENT_KEY_FILE OUT_FILE\n");
    return 2;
  }
  char server[41], secret[41], public_key[41];
  if (!read_key(argv[2], server) || !read_key(argv[3], secret) || zmq_curve_public(public_key, secret) != 0) {
    std::fprintf(stderr, "bench_log_sink: bad key file\n");
    return 2;
  }
  int out = open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) {
    std::fprintf(stderr, "bench_log_sink: %s: %s\n", argv[4], std::strerror(errno));
    return 2;
  }
  struct sigaction action {};
  action.sa_handler = on_term;
  sigaction(SIGTERM, &action, nullptr);

  void* context = zmq_ctx_new();
  void* sub = zmq_socket(context, ZMQ_SUB);
  int zero = 0;
  zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, server, 40);
  zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, public_key, 40);
  zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, secret, 40);
  zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
  if (zmq_connect(sub, argv[1]) != 0) {
    std::fprintf(stderr, "bench_log_sink: connect %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
    return 2;
  }
  char message[1024];
  char line[1100];
  while (!stopping) {
    int n = zmq_recv(sub, message, sizeof message, 0);  // blocks; SIGTERM interrupts it (EINTR)
    if (n < 0) continue;
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    if (static_cast<std::size_t>(n) > sizeof message) n = sizeof message;
    int length = std::snprintf(line, sizeof line, "%lld %.*s\n",
                               static_cast<long long>(now.tv_sec) * 1'000'000LL + now.tv_nsec / 1000, n, message);
    if (length > 0 && write(out, line, static_cast<std::size_t>(length)) != length) return 1;
  }
  close(out);
  zmq_close(sub);
  zmq_ctx_term(context);
  return 0;
}
