// bench_minimal_client: the floor for P1, the least a one-shot CURVE publish can do with libzmq.
// Connects a DEALER with CURVE keys, sends one pre-encoded frame, waits for one reply frame, exits.
// It links libzmq and libc only (no protobuf, no logging, no config): what fleetban-publish costs
// beyond this is fleetban's own.
//
//   bench_minimal_client ENDPOINT SERVER_PUB_FILE CLIENT_KEY_FILE FRAME_FILE [--dump]
//
// The frame file holds an encoded Request{event}; the 16 bytes 0xA5... in it (the event id the
// bench wrote) are replaced by random bytes, so the aggregator applies every run as a new event,
// exactly as it does a publish. --dump writes the reply frame to stdout. Exit 0 when a reply came
// within 2 s, 1 otherwise.

#include <sys/random.h>
#include <zmq.h>

#include <cstdio>
#include <cstring>

namespace {

constexpr int kTimeoutMs = 2000;
constexpr std::size_t kIdLength = 16;
constexpr unsigned char kMarker = 0xA5;

// Reads a whole small file into buffer; returns its length, or -1.
long read_small_file(const char* path, char* buffer, std::size_t capacity) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return -1;
  std::size_t n = std::fread(buffer, 1, capacity, f);
  std::fclose(f);
  return static_cast<long>(n);
}

// A Z85 key file: 40 characters, then perhaps a newline.
bool read_key(const char* path, char (&key)[41]) {
  char buffer[128];
  long n = read_small_file(path, buffer, sizeof buffer);
  if (n < 40) return false;
  std::memcpy(key, buffer, 40);
  key[40] = '\0';
  return true;
}

int fail(const char* what) {
  std::fprintf(stderr, "bench_minimal_client: %s\n", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return fail("usage: ENDPOINT SERVER_PUB_FILE CLIENT_KEY_FILE FRAME_FILE [--dump]");
  bool dump = argc > 5 && std::strcmp(argv[5], "--dump") == 0;
  char server_public[41];
  char client_secret[41];
  char client_public[41];
  if (!read_key(argv[2], server_public) || !read_key(argv[3], client_secret)) return fail("cannot read the keys");
  if (zmq_curve_public(client_public, client_secret) != 0) return fail("bad secret key");

  static char frame[65536];
  long length = read_small_file(argv[4], frame, sizeof frame);
  if (length <= 0) return fail("cannot read the frame");
  unsigned char* bytes = reinterpret_cast<unsigned char*>(frame);
  for (long i = 0; i + static_cast<long>(kIdLength) <= length; ++i) {
    bool marker = true;
    for (std::size_t j = 0; j < kIdLength && marker; ++j) marker = bytes[i + static_cast<long>(j)] == kMarker;
    if (marker) {
      if (getrandom(bytes + i, kIdLength, 0) != static_cast<ssize_t>(kIdLength)) return fail("getrandom");
      break;
    }
  }

  void* context = zmq_ctx_new();
  void* socket = zmq_socket(context, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(socket, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server_public, 40);
  zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, client_public, 40);
  zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, client_secret, 40);
  int timeout = kTimeoutMs;
  zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  if (zmq_connect(socket, argv[1]) != 0) return fail("cannot connect");
  // Without ZMQ_IMMEDIATE the frame is queued until the handshake completes.
  if (zmq_send(socket, frame, static_cast<std::size_t>(length), 0) < 0) return fail("send failed");
  static char reply[1 << 20];
  int received = zmq_recv(socket, reply, sizeof reply, 0);
  zmq_close(socket);
  zmq_ctx_term(context);
  if (received < 0) return fail("no reply within 2 s");
  if (dump) std::fwrite(reply, 1, static_cast<std::size_t>(received), stdout);
  return 0;
}
