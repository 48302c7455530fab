// GeoIP and ASN, black box: small MaxMind DB files written by tests/geoip/make_test_mmdb.pl (Debian's
// libmaxmind-db-writer-perl), a real aggregator with geoip_country_db and geoip_asn_db, and what
// GET /api/v1/bans, its pages, `fleetban list` and the dashboard then say; a bad file stops the
// start (exit 2).
#include "fleet.hpp"

#include <httplib.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

// Writes one test database (kind: country, country-code or asn) into the test's directory.
std::filesystem::path make_mmdb(const TempDir& dir, const std::string& kind) {
  const auto file = dir / (kind + ".mmdb");
  const auto made =
      run({"perl", std::string(FLEETBAN_SOURCE_DIR) + "/tests/geoip/make_test_mmdb.pl", kind, file.string()},
          std::chrono::seconds(60));
  EXPECT_EQ(made.exit_code, 0) << describe(made) << "\n(libmaxmind-db-writer-perl: make deps)";
  return file;
}

class GeoIp : public ::testing::Test {
 protected:
  // Starts the aggregator with these extra aggregator.toml lines and `http` on, and bans the four
  // addresses the databases know differently.
  ::testing::AssertionResult start_and_ban(const std::string& geoip_lines) {
    fleet.write_aggregator_config(geoip_lines, "127.0.0.1:" + std::to_string(port));
    if (auto started = fleet.start_aggregator(host); !started) return started;
    for (const char* ip : {"192.0.2.10", "192.0.2.200", "198.51.100.0/24", "2001:db8::5"}) {
      const auto result = fleet.publish(host, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"});
      if (result.exit_code != 0) return ::testing::AssertionFailure() << describe(result);
    }
    return ::testing::AssertionSuccess();
  }

  std::string get(const std::string& path) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(10));
    auto answer = client.Get(path);
    if (!answer) return "GET " + path + ": " + httplib::to_string(answer.error());
    EXPECT_EQ(answer->status, 200) << path << "\n" << answer->body;
    return answer->body;
  }

  nlohmann::json get_json(const std::string& path) {
    const std::string body = get(path);
    auto document = nlohmann::json::parse(body, nullptr, false);
    EXPECT_FALSE(document.is_discarded()) << path << "\n" << body;
    return document;
  }

  TempDir dir;
  Fleet fleet{dir};
  const Host& host = fleet.add_host("web-01");
  std::uint16_t port = free_tcp_port();
};

// The GeoIP fields of the entry for ip, as "country asn as_org" ("null" for a null).
std::string geo_of(const nlohmann::json& document, const std::string& ip) {
  const nlohmann::json* ban = find_ban(document, ip);
  if (ban == nullptr) return ip + " not listed";
  std::string text;
  for (const char* field : {"country", "asn", "as_org"}) {
    if (!ban->contains(field)) return std::string("no \"") + field + "\" in " + ban->dump();
    const auto& value = (*ban)[field];
    if (!text.empty()) text += ' ';
    text += value.is_string() ? value.get<std::string>() : value.dump();
  }
  return text;
}

TEST_F(GeoIp, BansCarryCountryAndNetworkInTheListAndItsPages) {
  const auto country = make_mmdb(dir, "country");
  const auto asn = make_mmdb(dir, "asn");
  ASSERT_TRUE(start_and_ban("geoip_country_db = " + toml_string(country.string()) +
                            "\ngeoip_asn_db = " + toml_string(asn.string()) + "\n"));

  const nlohmann::json all = get_json("/api/v1/bans");
  EXPECT_EQ(geo_of(all, "192.0.2.10"), "NL 64496 Example Net") << all.dump(2);
  EXPECT_EQ(geo_of(all, "192.0.2.200"), "NL null null") << "outside 192.0.2.0/25: no network\n" << all.dump(2);
  EXPECT_EQ(geo_of(all, "198.51.100.0/24"), "null 64500 Example Transit") << all.dump(2);
  EXPECT_EQ(geo_of(all, "2001:db8::5"), "JP 64501 Example Six") << all.dump(2);

  // `fleetban list --json` prints the same document; its table has the two columns.
  const auto listed = fleet.list(host);
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  EXPECT_EQ(nlohmann::json::parse(listed.out, nullptr, false), all) << listed.out << "\n" << all.dump(2);
  const auto table = run({program("fleetban"), "list", "--config", host.config.string()});
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  for (const char* text : {"COUNTRY", "NETWORK", "AS64496 Example Net", "AS64501 Example Six"}) {
    EXPECT_NE(table.out.find(text), std::string::npos) << "no \"" << text << "\" in:\n" << table.out;
  }

  // A walk through the pages says the same of each ban.
  std::string after;
  std::size_t seen = 0;
  for (int pages = 0; pages < 10; ++pages) {
    const nlohmann::json page = get_json("/api/v1/bans?limit=1" + (after.empty() ? "" : "&after=" + after));
    ASSERT_TRUE(page.contains("bans") && page.contains("next")) << page.dump(2);
    for (const auto& ban : page["bans"]) {
      const std::string ip = ban["ip"].get<std::string>();
      EXPECT_EQ(geo_of(page, ip), geo_of(all, ip)) << page.dump(2);
      ++seen;
    }
    if (page["next"].is_null()) break;
    after = page["next"].get<std::string>();
  }
  EXPECT_EQ(seen, 4u);

  // The dashboard: each row names its country and network, and the page counts them.
  const std::string page = get("/");
  for (const char* text :
       {"Top countries", "Top networks", "NL \u00b7 AS64496 Example Net", "unknown \u00b7 AS64500 Example Transit",
        "JP \u00b7 AS64501 Example Six", "id=\"per-country\"", "id=\"per-network\""}) {
    EXPECT_NE(page.find(text), std::string::npos) << "no \"" << text << "\" on the dashboard:\n" << page;
  }
  // Searching a network finds its bans.
  const std::string found = get("/?q=AS64500");
  EXPECT_NE(found.find("198.51.100.0/24"), std::string::npos) << found;
  EXPECT_EQ(found.find(">192.0.2.10<"), std::string::npos) << found;
}

TEST_F(GeoIp, ReadsTheIpLocationDbLayoutAndEachDatabaseAlone) {
  const auto country = make_mmdb(dir, "country-code");
  ASSERT_TRUE(start_and_ban("geoip_country_db = " + toml_string(country.string()) + "\n"));
  const nlohmann::json all = get_json("/api/v1/bans");
  EXPECT_EQ(geo_of(all, "192.0.2.10"), "NL null null") << all.dump(2);
  EXPECT_EQ(geo_of(all, "198.51.100.0/24"), "null null null") << all.dump(2);
  EXPECT_EQ(geo_of(all, "2001:db8::5"), "JP null null") << all.dump(2);
}

TEST_F(GeoIp, OffWithoutDatabases) {
  ASSERT_TRUE(start_and_ban(""));
  const nlohmann::json all = get_json("/api/v1/bans");
  const nlohmann::json* ban = find_ban(all, "192.0.2.10");
  ASSERT_NE(ban, nullptr) << all.dump(2);
  for (const char* field : {"country", "asn", "as_org"}) {
    EXPECT_FALSE(ban->contains(field)) << field << " without GeoIP: " << ban->dump();
  }
  EXPECT_EQ(get("/").find("Top countries"), std::string::npos);
  const auto listed = fleet.list(host);
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  EXPECT_EQ(nlohmann::json::parse(listed.out, nullptr, false), all) << listed.out;
  const auto table = run({program("fleetban"), "list", "--config", host.config.string()});
  EXPECT_EQ(table.out.find("COUNTRY"), std::string::npos) << table.out;
}

TEST_F(GeoIp, ABadDatabaseStopsTheStartNamingTheFile) {
  const auto not_a_database = dir / "country.txt";
  write_file(not_a_database, "192.0.2.0/24 NL\n");
  const auto missing = dir / "missing.mmdb";
  for (const auto& [key, file] : std::vector<std::pair<std::string, std::filesystem::path>>{
           {"geoip_country_db", not_a_database}, {"geoip_asn_db", missing}}) {
    fleet.write_aggregator_config(key + " = " + toml_string(file.string()) + "\n", "127.0.0.1:" + std::to_string(port));
    const auto result = run({program("fleetban-aggregator"), "--config", fleet.aggregator_config().string()});
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    EXPECT_NE(result.output.find(key), std::string::npos) << describe(result);
    EXPECT_NE(result.output.find(file.string()), std::string::npos) << describe(result);
  }
}

}  // namespace
}  // namespace fleetban::testing
