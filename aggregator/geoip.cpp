#include "aggregator/geoip.hpp"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "common/errors.hpp"

namespace fleetban::aggregator {

struct GeoIp::Database {
  MMDB_s mmdb{};

  Database(const char* key, const std::filesystem::path& file) {
    errno = 0;
    int status = MMDB_open(file.c_str(), MMDB_MODE_MMAP, &mmdb);
    if (status != MMDB_SUCCESS) {
      std::string why = MMDB_strerror(status);
      if (status == MMDB_IO_ERROR && errno != 0) why += std::string(": ") + std::strerror(errno);
      throw common::UsageError(std::string(key) + " = \"" + file.string() + "\": " + why);
    }
    spdlog::info("geoip_database_opened key={} file=\"{}\" type=\"{}\" built={}", key, file.string(),
                 mmdb.metadata.database_type != nullptr ? mmdb.metadata.database_type : "", mmdb.metadata.build_epoch);
  }
  ~Database() { MMDB_close(&mmdb); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The entry for the prefix's first address, or none (not in the database, or an IPv6 address
  // in an IPv4-only database).
  std::optional<MMDB_entry_s> find(const common::IpPrefix& prefix) const {
    sockaddr_storage address{};
    if (prefix.family() == common::Family::v4) {
      auto* in = reinterpret_cast<sockaddr_in*>(&address);
      in->sin_family = AF_INET;
      std::memcpy(&in->sin_addr, prefix.bytes().data(), 4);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
      in6->sin6_family = AF_INET6;
      std::memcpy(&in6->sin6_addr, prefix.bytes().data(), 16);
    }
    int error = MMDB_SUCCESS;
    // MMDB_lookup_sockaddr only reads the database: libmaxminddb allows it from several threads.
    MMDB_lookup_result_s result =
        MMDB_lookup_sockaddr(const_cast<MMDB_s*>(&mmdb), reinterpret_cast<const sockaddr*>(&address), &error);
    if (error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;
    return result.entry;
  }
};

namespace {

// What proto Geo carries at most (common/codec.cpp).
constexpr std::size_t kCountryBytes = 8;
constexpr std::size_t kOrgBytes = 256;

// The value at a path of an entry ("country", "iso_code"), if it is there with the type asked for.
template <typename... Path>
std::optional<MMDB_entry_data_s> value_at(MMDB_entry_s entry, std::uint32_t type, Path... path) {
  MMDB_entry_data_s data{};
  if (MMDB_get_value(&entry, &data, path..., nullptr) != MMDB_SUCCESS || !data.has_data || data.type != type) {
    return std::nullopt;
  }
  return data;
}

// A string at a path, at most `limit` bytes (cut at a UTF-8 character's start), control characters
// replaced: it goes to terminals (`fleetban list`) and over the wire (proto Geo's bounds).
std::string text_at(std::size_t limit, const MMDB_entry_s& entry, auto... path) {
  auto data = value_at(entry, MMDB_DATA_TYPE_UTF8_STRING, path...);
  if (!data) return {};
  std::string text(data->utf8_string, data->data_size);
  if (text.size() > limit) {
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

// An AS number, whichever unsigned type the database's writer chose for it (0: none).
std::uint32_t number_at(const MMDB_entry_s& entry, const char* key) {
  if (auto data = value_at(entry, MMDB_DATA_TYPE_UINT32, key)) return data->uint32;
  if (auto data = value_at(entry, MMDB_DATA_TYPE_UINT16, key)) return data->uint16;
  if (auto data = value_at(entry, MMDB_DATA_TYPE_UINT64, key)) {
    return data->uint64 <= UINT32_MAX ? static_cast<std::uint32_t>(data->uint64) : 0;
  }
  return 0;
}

}  // namespace

GeoIp::GeoIp(const std::filesystem::path& country_db, const std::filesystem::path& asn_db) {
  if (!country_db.empty()) country_ = std::make_unique<Database>("geoip_country_db", country_db);
  if (!asn_db.empty()) asn_ = std::make_unique<Database>("geoip_asn_db", asn_db);
}

GeoIp::~GeoIp() = default;

bool GeoIp::enabled() const { return country_ || asn_; }

common::Geo GeoIp::lookup(const common::IpPrefix& prefix) const {
  common::Geo geo;
  if (country_) {
    if (auto entry = country_->find(prefix)) {
      // MaxMind's and DB-IP's layout (GeoLite2-Country, dbip-country-lite), then ip-location-db's.
      geo.country = text_at(kCountryBytes, *entry, "country", "iso_code");
      if (geo.country.empty()) geo.country = text_at(kCountryBytes, *entry, "country_code");
    }
  }
  if (asn_) {
    if (auto entry = asn_->find(prefix)) {
      // GeoLite2-ASN, DB-IP's ASN lite and ip-location-db's asn files all use these two keys.
      geo.asn = number_at(*entry, "autonomous_system_number");
      geo.as_org = text_at(kOrgBytes, *entry, "autonomous_system_organization");
    }
  }
  return geo;
}

std::shared_ptr<const common::Geo> GeoIp::tag(const common::IpPrefix& prefix) const {
  if (!enabled()) return nullptr;
  return std::make_shared<const common::Geo>(lookup(prefix));
}

std::string country_name(const common::Geo& geo) { return geo.country.empty() ? "unknown" : geo.country; }

std::string network_name(const common::Geo& geo) {
  if (geo.asn == 0) return geo.as_org.empty() ? "unknown" : geo.as_org;
  return "AS" + std::to_string(geo.asn) + (geo.as_org.empty() ? "" : " " + geo.as_org);
}

}  // namespace fleetban::aggregator
