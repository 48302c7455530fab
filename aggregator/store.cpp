#include "aggregator/store.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "aggregator/stored_record.hpp"
#include "common/errors.hpp"
#include "common/unique_fd.hpp"

namespace fleetban::aggregator {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS records (prefix BLOB PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
-- Applied event ids, 16 bytes each, concatenated: one row per commit (and time), not per event,
-- because a row and an index entry per event cost a quarter of the aggregator's CPU.
CREATE TABLE IF NOT EXISTS seen_event_batches (seen_at INTEGER NOT NULL, ids BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS seen_event_batches_by_time ON seen_event_batches (seen_at);
)sql";

// WAL pages after which the checkpointer copies them into the database file.
constexpr int kCheckpointPages = 10'000;

// The database holds every reporter's name and the fleet's whole history: it is created 0600 before
// SQLite opens it, whatever the umask, and SQLite gives its -wal and -shm files the same mode. An
// existing file (or -wal/-shm) that others can read loses those bits, with a warning; group bits an
// operator chose (0640 for a backup group) are kept. A file that cannot be opened here is left for
// SQLite to report.
void restrict_database_mode(const std::filesystem::path& file) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string path = file.string() + suffix;
    int flags = O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (*suffix == '\0' ? O_CREAT : 0);
    common::UniqueFd fd(open(path.c_str(), flags, 0600));
    struct stat st {};
    if (!fd || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & S_IRWXO) == 0) continue;
    mode_t tightened = st.st_mode & 0770;
    if (fchmod(fd.get(), tightened) == 0) {
      spdlog::warn("database_mode_tightened file=\"{}\" was={:04o} now={:04o} reason=\"others could read it\"", path,
                   st.st_mode & 07777, tightened);
    }
  }
}

}  // namespace

// SQLite's automatic checkpoint runs inside the COMMIT that crosses wal_autocheckpoint pages: on
// the ack path, waiting for the database file's writes and fsync (bench/README.md, P2 tail). A
// passive checkpoint from a second connection lets the loop's commits go on meanwhile; the WAL
// starts over at the first commit after a checkpoint that caught up with it.
class Store::Checkpointer {
 public:
  explicit Checkpointer(const std::filesystem::path& file) : file_(file), thread_([this] { run(); }) {}
  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void request() {
    {
      std::lock_guard lock(mutex_);
      requested_ = true;
    }
    wake_.notify_one();
  }

 private:
  void run() {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(file_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) == SQLITE_OK) {
      sqlite3_exec(db, "PRAGMA synchronous = FULL", nullptr, nullptr, nullptr);
    }
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stop_ || requested_; });
      if (stop_) break;
      requested_ = false;
      lock.unlock();
      // Busy (another checkpoint) or failed: the next commit over the threshold asks again.
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
    sqlite3_close(db);
  }

  std::filesystem::path file_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

int Store::on_wal_commit(void* store, sqlite3*, const char*, int pages) {
  auto* self = static_cast<Store*>(store);
  if (pages >= kCheckpointPages && self->checkpointer_) self->checkpointer_->request();
  return SQLITE_OK;
}

Store::Store(const std::filesystem::path& file, std::uint64_t history_row_cap)
    : history_row_cap_(history_row_cap), file_(file) {
  if (file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
  }
  restrict_database_mode(file);
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw common::RuntimeError(file.string() + ": cannot open database: " + message);
  }
  try {
    configure();
  } catch (...) {
    // The destructor does not run for a constructor that throws: release the handle here.
    history_.reset();
    finalize_statements();
    sqlite3_close(db_);
    throw;
  }
  checkpointer_ = std::make_unique<Checkpointer>(file_);
}

void Store::configure() {
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode = WAL");
  exec("PRAGMA synchronous = FULL");   // an ack promises the event survives a power cut too
  exec("PRAGMA cache_size = -65536");  // 64 MiB: the records of a large fleet stay in memory
  exec(("PRAGMA journal_size_limit = " + std::to_string(kWalSizeLimit)).c_str());
  // Replaces the automatic checkpoint inside the commit by the checkpointer's.
  sqlite3_wal_hook(db_, &Store::on_wal_commit, this);
  exec(kSchema);
  put_record_ = prepare("INSERT OR REPLACE INTO records (prefix, record) VALUES (?1, ?2)");
  put_seen_ = prepare("INSERT INTO seen_event_batches (seen_at, ids) VALUES (?1, ?2)");
  put_meta_ = prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  delete_record_ = prepare("DELETE FROM records WHERE prefix = ?1");
  old_seen_ = prepare("SELECT ids FROM seen_event_batches WHERE seen_at < ?1");
  delete_old_seen_ = prepare("DELETE FROM seen_event_batches WHERE seen_at < ?1");
  history_ = std::make_unique<HistoryTable>(std::make_unique<SqliteHistoryRows>(db_, file_), history_row_cap_);
}

void Store::finalize_statements() {
  for (sqlite3_stmt* statement : {put_record_, put_seen_, put_meta_, delete_record_, old_seen_, delete_old_seen_}) {
    sqlite3_finalize(statement);
  }
}

Store::~Store() {
  checkpointer_.reset();
  history_.reset();
  finalize_statements();
  sqlite3_close(db_);
}

void Store::fail(const std::string& what) {
  throw common::RuntimeError(file_.string() + ": " + what + ": " + sqlite3_errmsg(db_));
}

void Store::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    throw common::RuntimeError(file_.string() + ": " + message);
  }
}

sqlite3_stmt* Store::prepare(const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr) != SQLITE_OK) fail("cannot prepare statement");
  return statement;
}

StoredState Store::load(const std::function<void(const FleetRecord&)>& each_record) {
  StoredState state;
  sqlite3_stmt* meta = prepare("SELECT key, value FROM meta");
  while (sqlite3_step(meta) == SQLITE_ROW) {
    const auto* key = reinterpret_cast<const char*>(sqlite3_column_text(meta, 0));
    read_meta_row(key != nullptr ? key : "",
                  {static_cast<const char*>(sqlite3_column_blob(meta, 1)),
                   static_cast<std::size_t>(sqlite3_column_bytes(meta, 1))},
                  state);
  }
  sqlite3_finalize(meta);
  if (state.incarnation.empty()) {
    state.incarnation = random_incarnation();
    begin();
    sqlite3_bind_text(put_meta_, 1, "incarnation", -1, SQLITE_STATIC);
    sqlite3_bind_blob(put_meta_, 2, state.incarnation.data(), static_cast<int>(state.incarnation.size()),
                      SQLITE_TRANSIENT);
    if (sqlite3_step(put_meta_) != SQLITE_DONE) fail("cannot write incarnation");
    sqlite3_reset(put_meta_);
    commit();
  }

  sqlite3_stmt* records = prepare("SELECT record FROM records");
  while (sqlite3_step(records) == SQLITE_ROW) {
    auto record = decode_record(sqlite3_column_blob(records, 0), sqlite3_column_bytes(records, 0));
    if (!record) {
      sqlite3_finalize(records);
      throw common::RuntimeError(file_.string() + ": corrupt record in database: " + record.error());
    }
    try {
      each_record(*record);
    } catch (...) {
      sqlite3_finalize(records);
      throw;
    }
  }
  sqlite3_finalize(records);

  sqlite3_stmt* seen = prepare("SELECT ids FROM seen_event_batches");
  try {
    append_ids(seen, state.seen_events);
  } catch (...) {
    sqlite3_finalize(seen);
    throw;
  }
  sqlite3_finalize(seen);
  sort_unique(state.seen_events);
  return state;
}

void Store::begin() {
  pending_seen_.clear();
  exec("BEGIN IMMEDIATE");
}

void Store::commit() {
  try {
    write_pending_seen();
    history_->write();
  } catch (const common::RuntimeError&) {
    rollback();
    throw;
  }
  char* error = nullptr;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    rollback();
    throw common::RuntimeError(file_.string() + ": cannot commit: " + message);
  }
}

void Store::rollback() {
  pending_seen_.clear();
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  if (history_) history_->rolled_back();
}

void Store::put(const FleetRecord& record) {
  std::string key = storage_key(record.decision.prefix);
  std::string value = encode_record(record);
  sqlite3_bind_blob(put_record_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_blob(put_record_, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(put_record_);
  sqlite3_reset(put_record_);
  if (rc != SQLITE_DONE) fail("cannot write record");
}

void Store::erase(const common::IpPrefix& prefix) {
  std::string key = storage_key(prefix);
  sqlite3_bind_blob(delete_record_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(delete_record_);
  sqlite3_reset(delete_record_);
  if (rc != SQLITE_DONE) fail("cannot delete record");
}

void Store::mark_seen(const common::EventId& id, common::UnixSeconds at) {
  std::string& ids = pending_seen_[common::to_unix(at)];
  ids.append(reinterpret_cast<const char*>(id.data()), id.size());
}

void Store::write_pending_seen() {
  for (const auto& [at, ids] : pending_seen_) {
    sqlite3_bind_int64(put_seen_, 1, at);
    sqlite3_bind_blob(put_seen_, 2, ids.data(), static_cast<int>(ids.size()), SQLITE_STATIC);
    int rc = sqlite3_step(put_seen_);
    sqlite3_reset(put_seen_);
    if (rc != SQLITE_DONE) fail("cannot write event ids");
  }
  pending_seen_.clear();
}

void Store::set_sequence(std::uint64_t sequence) {
  std::string value = std::to_string(sequence);
  sqlite3_bind_text(put_meta_, 1, "sequence", -1, SQLITE_STATIC);
  sqlite3_bind_blob(put_meta_, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(put_meta_);
  sqlite3_reset(put_meta_);
  if (rc != SQLITE_DONE) fail("cannot write sequence");
}

void Store::put_last_event(const std::string& host_key, common::UnixSeconds at) {
  std::string key = last_event_meta_key(host_key);
  std::string value = std::to_string(common::to_unix(at));
  sqlite3_bind_text(put_meta_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_blob(put_meta_, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(put_meta_);
  sqlite3_reset(put_meta_);
  if (rc != SQLITE_DONE) fail("cannot write a host's last event");
}

// Appends the ids of every row `statement` yields (one ids blob per row) to `out`.
void Store::append_ids(sqlite3_stmt* statement, std::vector<common::EventId>& out) {
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    append_event_ids({static_cast<const char*>(sqlite3_column_blob(statement, 0)),
                      static_cast<std::size_t>(sqlite3_column_bytes(statement, 0))},
                     out);
  }
  if (rc != SQLITE_DONE) fail("cannot read event ids");
}

std::vector<common::EventId> Store::take_events_before(common::UnixSeconds before) {
  std::vector<common::EventId> ids;
  sqlite3_bind_int64(old_seen_, 1, common::to_unix(before));
  try {
    append_ids(old_seen_, ids);
  } catch (...) {
    sqlite3_reset(old_seen_);
    throw;
  }
  sqlite3_reset(old_seen_);
  sqlite3_bind_int64(delete_old_seen_, 1, common::to_unix(before));
  int rc = sqlite3_step(delete_old_seen_);
  sqlite3_reset(delete_old_seen_);
  if (rc != SQLITE_DONE) fail("cannot prune event ids");
  return ids;
}

void Store::forget_events_before(common::UnixSeconds before) {
  sqlite3_stmt* statement = prepare("DELETE FROM seen_event_batches WHERE seen_at < ?1");
  sqlite3_bind_int64(statement, 1, common::to_unix(before));
  int rc = sqlite3_step(statement);
  sqlite3_finalize(statement);
  if (rc != SQLITE_DONE) fail("cannot prune event ids");
}

}  // namespace fleetban::aggregator
