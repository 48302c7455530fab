#include "postgres_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fleetban::testing {

namespace {

using Clock = std::chrono::steady_clock;

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("no free TCP port on 127.0.0.1");
  }
  close(fd);
  return ntohs(address.sin_port);
}

// PostgreSQL will not run as root: the server and initdb run as nobody then.
const passwd* server_user() { return getuid() == 0 ? getpwnam("nobody") : nullptr; }

// Starts argv as the server user with stdout and stderr appended to `log`, in `dir`.
pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& dir, const std::filesystem::path& log) {
  const passwd* user = server_user();
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
  if (user != nullptr && (setgid(user->pw_gid) != 0 || setuid(user->pw_uid) != 0)) _exit(127);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // after setuid, which clears it
  if (chdir(dir.c_str()) != 0) _exit(127);
  execv(args[0], args.data());
  _exit(127);
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Connection {
  explicit Connection(const std::string& url) : conn(PQconnectdb(url.c_str())) {}
  ~Connection() { PQfinish(conn); }
  PGconn* conn;
};

}  // namespace

std::string postgres_bin_dir() {
  std::string dir;
  if (FILE* pipe = popen("pg_config --bindir 2>/dev/null", "r")) {
    char line[4096];
    if (fgets(line, sizeof line, pipe) != nullptr) dir = line;
    pclose(pipe);
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
  }
  auto has_server = [](const std::filesystem::path& d) {
    return std::filesystem::exists(d / "initdb") && std::filesystem::exists(d / "postgres");
  };
  if (!dir.empty() && has_server(dir)) return dir;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    if (has_server(entry.path() / "bin")) return (entry.path() / "bin").string();
  }
  return "";
}

std::vector<std::string> test_server_settings() { return {"fsync=off", "max_connections=60", "shared_buffers=16MB"}; }

PostgresServer::PostgresServer(std::vector<std::string> settings) : settings_(std::move(settings)) {
  const std::string bin = postgres_bin_dir();
  if (bin.empty()) throw std::runtime_error("PostgreSQL's server programs are missing");
  char name[] = "/tmp/fleetban-pg-XXXXXX";
  if (mkdtemp(name) == nullptr) throw std::runtime_error("cannot make a temp dir");
  dir_ = name;
  if (const passwd* user = server_user()) {
    if (chown(dir_.c_str(), user->pw_uid, user->pw_gid) != 0) throw std::runtime_error("cannot chown " + dir_.string());
  }
  pid_t initdb = spawn({bin + "/initdb", "-D", (dir_ / "data").string(), "-U", "fleetban", "--auth=trust", "-E", "UTF8",
                        "--no-sync", "--no-instructions"},
                       dir_, dir_ / "initdb.log");
  if (wait_exit(initdb) != 0) {
    std::string log = read_all(dir_ / "initdb.log");
    std::filesystem::remove_all(dir_);
    throw std::runtime_error("initdb failed: " + log);
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (start()) {
      create_database("fleetban");
      return;
    }
  }
  std::string log = this->log();
  std::filesystem::remove_all(dir_);
  throw std::runtime_error("the PostgreSQL server did not start: " + log);
}

bool PostgresServer::start() {
  port_ = free_port();
  std::vector<std::string> argv = {postgres_bin_dir() + "/postgres",
                                   "-D",
                                   (dir_ / "data").string(),
                                   "-p",
                                   std::to_string(port_),
                                   "-k",
                                   dir_.string(),
                                   "-c",
                                   "listen_addresses=127.0.0.1"};
  for (const auto& setting : settings_) {
    argv.push_back("-c");
    argv.push_back(setting);
  }
  pid_ = spawn(argv, dir_, dir_ / "server.log");
  const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=fleetban";
  for (auto deadline = Clock::now() + std::chrono::seconds(60); Clock::now() < deadline;) {
    if (PQping(ping.c_str()) == PQPING_OK) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  return false;
}

void PostgresServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown: ends the sessions, then exits
  for (auto deadline = Clock::now() + std::chrono::seconds(20); Clock::now() < deadline;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  wait_exit(pid_);
  pid_ = -1;
}

PostgresServer::~PostgresServer() {
  stop();
  if (std::getenv("FLEETBAN_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string PostgresServer::url(std::string_view database) const {
  return "postgresql://fleetban:secret@127.0.0.1:" + std::to_string(port_) + "/" + std::string(database);
}

void PostgresServer::create_database(std::string_view name) const {
  query("CREATE DATABASE " + std::string(name), "postgres");
}

std::string PostgresServer::query(std::string_view sql, std::string_view database) const {
  Connection db(url(database));
  if (PQstatus(db.conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(db.conn));
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(db.conn, std::string(sql).c_str()), &PQclear);
  auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error(std::string(sql) + ": " + PQresultErrorMessage(result.get()));
  }
  if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0) return PQgetvalue(result.get(), 0, 0);
  return "";
}

std::string PostgresServer::log() const { return read_all(dir_ / "server.log"); }

}  // namespace fleetban::testing
