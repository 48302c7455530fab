#pragma once
// GeoIP: the country and the network (autonomous system) of a banned address, looked up in the
// MaxMind DB files named by geoip_country_db and geoip_asn_db (read with libmaxminddb). Optional:
// without either file, that half is off and lookups leave it empty.

#include <filesystem>
#include <memory>
#include <string>

#include "common/decision.hpp"
#include "common/ip_prefix.hpp"

namespace fleetban::aggregator {

class GeoIp {
 public:
  // Opens each file given once (memory-mapped); an empty path leaves that database off. A file that
  // cannot be opened or is not a MaxMind DB throws UsageError naming the key and the file (exit 2).
  // The files are read at start only: replacing one takes a restart (docs/OPERATIONS.md).
  GeoIp(const std::filesystem::path& country_db, const std::filesystem::path& asn_db);
  ~GeoIp();
  GeoIp(const GeoIp&) = delete;
  GeoIp& operator=(const GeoIp&) = delete;

  // Whether at least one database is open: only then do the API, the CLI and the dashboard show
  // where bans come from.
  bool enabled() const;

  // A prefix is looked up by its first address. Reads only: safe from several threads at once.
  common::Geo lookup(const common::IpPrefix& prefix) const;
  // The same, shared, for Decision::geo; nullptr when GeoIP is off.
  std::shared_ptr<const common::Geo> tag(const common::IpPrefix& prefix) const;

 private:
  struct Database;
  std::unique_ptr<Database> country_;
  std::unique_ptr<Database> asn_;
};

// How the dashboard names them: "NL", "AS64496 Example Net"; "unknown" when not known.
std::string country_name(const common::Geo& geo);
std::string network_name(const common::Geo& geo);

}  // namespace fleetban::aggregator
