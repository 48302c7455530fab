#include "aggregator/http_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "aggregator/aggregator_config.hpp"
#include "aggregator/blocklist.hpp"
#include "aggregator/dashboard.hpp"
#include "aggregator/history_route.hpp"
#include "aggregator/host_metrics.hpp"
#include "aggregator/http_access.hpp"
#include "common/bans_json.hpp"
#include "common/errors.hpp"
#include "common/hosts_json.hpp"
#include "common/ip_prefix.hpp"
#include "server/http_runner.hpp"

namespace fleetban::aggregator {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kPrometheus = "text/plain; version=0.0.4";
constexpr const char* kHtml = "text/html; charset=utf-8";

void json_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  // Replaces invalid UTF-8 from the query rather than throwing.
  res.set_content(nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  kJson);
}

// The filters of GET /api/v1/bans: a decision passes when it passes every one given (a repeated
// one must hold for each of its values).
struct BanFilter {
  std::vector<common::IpPrefix> ips;
  std::vector<std::string> reporters;
  std::vector<std::string> jails;

  bool passes(const common::Decision& d) const {
    auto has = [](const std::vector<std::string>& names, const std::string& name) {
      return std::find(names.begin(), names.end(), name) != names.end();
    };
    return std::all_of(ips.begin(), ips.end(), [&](const auto& ip) { return d.prefix.contains(ip); }) &&
           std::all_of(reporters.begin(), reporters.end(), [&](const auto& r) { return has(d.reporters, r); }) &&
           std::all_of(jails.begin(), jails.end(), [&](const auto& j) { return has(d.jails, j); });
  }
};

constexpr std::size_t kMaxPageLimit = 10'000;

// ?limit=N: a whole number from 1 to kMaxPageLimit; kMaxPageLimit when only `after` is given.
std::optional<std::size_t> parse_limit(const httplib::Request& req) {
  if (!req.has_param("limit")) return kMaxPageLimit;
  std::string text = req.get_param_value("limit");
  std::size_t limit = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || limit < 1 || limit > kMaxPageLimit) {
    return std::nullopt;
  }
  return limit;
}

// The country and network of each decision, when GeoIP is on.
void tag_geo(const GeoIp* geoip, std::vector<common::Decision>& decisions) {
  if (geoip == nullptr || !geoip->enabled()) return;
  for (auto& d : decisions) d.geo = geoip->tag(d.prefix);
}

// GET /api/v1/bans?limit=N&after=IP: one page from the loop (StateView::page), in the aggregator's
// record order; the filters apply within the page, so a filtered page may be short.
void serve_bans_page(StateView& view, const GeoIp* geoip, const BanFilter& filter, const httplib::Request& req,
                     httplib::Response& res) {
  auto limit = parse_limit(req);
  if (!limit) {
    return json_error(res, 400,
                      "limit=\"" + req.get_param_value("limit") + "\" is not a whole number from 1 to " +
                          std::to_string(kMaxPageLimit));
  }
  StateView::PageRequest request{.limit = *limit};
  if (req.has_param("after")) {
    std::string value = req.get_param_value("after");
    request.after = common::IpPrefix::parse(value);
    if (!request.after) return json_error(res, 400, "after=\"" + value + "\" is not an IPv4 or IPv6 address or prefix");
  }
  auto page = view.page(request);
  if (!page) return json_error(res, 503, "the aggregator's loop did not answer in time; try again");
  if (page->unknown_after) {
    return json_error(res, 400,
                      "after=\"" + request.after->to_string() +
                          "\" is not in the list (forgotten, or never there): start again without after");
  }
  std::erase_if(page->decisions, [&](const common::Decision& d) { return !filter.passes(d); });
  tag_geo(geoip, page->decisions);
  res.set_content(common::bans_page_json(page->decisions, page->next), kJson);
}

// GET /api/v1/bans[?ip=&reporter=&jail=][&limit=N&after=IP]: INTERFACE.md's document for the
// bans that pass every filter given; paged when limit or after is given.
void serve_bans(StateView& view, const GeoIp* geoip, const httplib::Request& req, httplib::Response& res) {
  BanFilter filter;
  for (std::size_t i = 0; i < req.get_param_value_count("ip"); ++i) {
    std::string value = req.get_param_value("ip", i);
    auto ip = common::IpPrefix::parse(value);
    if (!ip) return json_error(res, 400, "ip=\"" + value + "\" is not an IPv4 or IPv6 address or prefix");
    filter.ips.push_back(*ip);
  }
  for (std::size_t i = 0; i < req.get_param_value_count("reporter"); ++i) {
    filter.reporters.push_back(req.get_param_value("reporter", i));
  }
  for (std::size_t i = 0; i < req.get_param_value_count("jail"); ++i) {
    filter.jails.push_back(req.get_param_value("jail", i));
  }
  if (req.has_param("limit") || req.has_param("after")) return serve_bans_page(view, geoip, filter, req, res);
  auto decisions = view.decisions();
  std::vector<common::Decision> chosen;
  for (const auto& d : *decisions) {
    if (filter.passes(d)) chosen.push_back(d);
  }
  tag_geo(geoip, chosen);
  res.set_content(common::bans_json(chosen), kJson);
}

// GET /api/v1/blocklist.txt[?family=4|6]: the active banned prefixes, one a line, sent as the loop
// hands them over (kBlocklistChunk a turn), so neither thread ever holds the whole list. A client
// whose If-None-Match names the current ETag gets 304 without any walk of the state. The ETag is
// taken before the first chunk: if the state changes while the list is sent, the list may be newer
// than its tag, never older, and the next poll fetches it again.
void serve_blocklist(StateView& view, const httplib::Request& req, httplib::Response& res) {
  auto choice = parse_family(req.has_param("family") ? std::optional(req.get_param_value("family")) : std::nullopt);
  if (!choice.valid) {
    return json_error(res, 400, "family=\"" + req.get_param_value("family") + "\": expected 4 or 6 (or none for both)");
  }
  std::string etag = blocklist_etag(view.version(), choice.family);
  res.set_header("ETag", etag);
  // Pollers and caches may keep it, but must ask again each time (then cheaply, with If-None-Match).
  res.set_header("Cache-Control", "no-cache");
  if (etag_matches(req.get_header_value("If-None-Match"), etag)) {
    res.status = 304;
    return;
  }
  auto after = std::make_shared<std::optional<common::IpPrefix>>();
  res.set_chunked_content_provider(kText, [&view, after, family = choice.family](std::size_t, httplib::DataSink& sink) {
    auto page = view.page({.after = *after, .limit = kBlocklistChunk, .prefixes_only = true, .family = family});
    // A list cut short must not look whole to a firewall: false drops the connection unfinished.
    if (!page || page->unknown_after) return false;
    std::string lines;
    lines.reserve(page->prefixes.size() * 20);
    for (const auto& prefix : page->prefixes) {
      lines += prefix.to_string();
      lines += '\n';
    }
    if (!lines.empty() && !sink.write(lines.data(), lines.size())) return false;
    *after = page->next;
    if (!page->next) sink.done();
    return true;
  });
}

void html_error(httplib::Response& res, int status, std::string_view title, std::string_view message) {
  res.status = status;
  res.set_content(render_error_page(title, message), kHtml);
  res.set_header("Content-Security-Policy", std::string(kDashboardContentSecurityPolicy));
}

// GET /[?q=&records=&after=]: one page of StateView's walk (so its cost does not grow with the
// fleet: at most kDashboardPage bans, and a search looks at kDashboardSearchScan records) and the
// loop's last summary.
void serve_dashboard(StateView& view, SummaryKeeper* summary, const GeoIp* geoip, const httplib::Request& req,
                     httplib::Response& res) {
  const std::string query = req.get_param_value("q");
  auto records = parse_records(req.get_param_value("records"));
  if (!records) {
    return html_error(res, 400, "Bad request",
                      "records=\"" + req.get_param_value("records") + "\": expected active, ended or all");
  }
  StateView::PageRequest request{.limit = kDashboardPage, .records = *records};
  if (req.has_param("after")) {
    request.after = common::IpPrefix::parse(req.get_param_value("after"));
    if (!request.after) {
      return html_error(res, 400, "Bad request",
                        "after=\"" + req.get_param_value("after") + "\" is not an IPv4 or IPv6 address or prefix");
    }
  }
  auto search = std::make_shared<const DashboardSearch>(query, geoip);
  if (!search->empty()) {
    request.filter = [search](const common::Decision& d) { return search->matches(d); };
    request.scan = kDashboardSearchScan;
  }
  DashboardPage page{.after = request.after, .query = query, .records = *records, .geoip = geoip};
  if (summary != nullptr) summary->want();
  page.with_hosts = true;
  page.hosts = view.hosts().hosts();
  auto walked = view.page(std::move(request));
  if (!walked) return html_error(res, 503, "Busy", "The aggregator's loop did not answer in time; reload the page.");
  if (walked->unknown_after) {
    return html_error(res, 400, "Bad request",
                      "after=\"" + page.after->to_string() +
                          "\" is not in the list (forgotten, or never there): start again from the first page");
  }
  page.bans = std::move(walked->decisions);
  page.next = walked->next;
  if (summary != nullptr) page.summary = summary->latest();
  page.now = common::now_seconds();
  res.set_content(render_dashboard(page), kHtml);
  res.set_header("Content-Security-Policy", std::string(kDashboardContentSecurityPolicy));
}

// GET /ip/ADDR: the record of one address or prefix, active or ended.
void serve_address_page(StateView& view, const GeoIp* geoip, HistoryReader* history, const httplib::Request& req,
                        httplib::Response& res) {
  const std::string text = req.matches[1];
  auto address = common::IpPrefix::parse(text);
  if (!address) {
    return html_error(res, 400, "Bad address", "\"" + text + "\" is not an IPv4 or IPv6 address or prefix");
  }
  auto walked = view.page({.limit = 1, .exact = *address});
  if (!walked) return html_error(res, 503, "Busy", "The aggregator's loop did not answer in time; reload the page.");
  AddressPage page{.address = *address, .now = common::now_seconds(), .geoip = geoip};
  if (!walked->decisions.empty()) page.decision = std::move(walked->decisions.front());
  if (history != nullptr) {
    if (auto read = history->read(*address)) {
      page.history = std::move(*read);
    } else {
      spdlog::error("history_unreadable ip={} error=\"{}\"", address->to_string(), read.error());
      page.history_error = "The history could not be read; reload the page.";
    }
  }
  res.set_content(render_address_page(page), kHtml);
  res.set_header("Content-Security-Policy", std::string(kDashboardContentSecurityPolicy));
}

void method_not_allowed(const httplib::Request&, httplib::Response& res) {
  res.status = 405;
  res.set_header("Allow", "GET, HEAD");
  res.set_content("method not allowed: this server is read-only\n", kText);
}

// Answers `status` with a short text and closes the connection: a refused request's body is not
// read, so the connection cannot be kept in step.
void refuse(httplib::Response& res, int status, const char* text) {
  res.status = status;
  res.set_header("Connection", "close");
  res.set_content(text, kText);
}

}  // namespace

struct HttpServer::Impl {
  server::HttpRunner runner{4};  // a few workers are plenty for read-only pages
};

HttpServer::HttpServer(const std::string& address, StateView& view, const Metrics& metrics,
                       const std::filesystem::path& auth_file, std::shared_ptr<const GeoIp> geoip,
                       SummaryKeeper* summary, std::shared_ptr<HistoryReader> history)
    : impl_(std::make_unique<Impl>()) {
  std::shared_ptr<const HttpCredentials> credentials;
  if (!auth_file.empty()) credentials = std::make_shared<HttpCredentials>(HttpCredentials::load(auth_file));
  httplib::Server& server = impl_->runner.server();

  server.Get("/", [&view, summary, geoip](const httplib::Request& req, httplib::Response& res) {
    serve_dashboard(view, summary, geoip.get(), req, res);
  });
  server.Get(R"(/ip/(.+))", [&view, geoip, history](const httplib::Request& req, httplib::Response& res) {
    serve_address_page(view, geoip.get(), history.get(), req, res);
  });
  server.Get("/api/v1/bans", [&view, geoip](const httplib::Request& req, httplib::Response& res) {
    serve_bans(view, geoip.get(), req, res);
  });
  if (history) {
    server.Get(R"(/api/v1/bans/(.+))", [history](const httplib::Request& req, httplib::Response& res) {
      auto answer = history_answer(*history, req.matches[1].str());
      res.status = answer.status;
      res.set_content(answer.body, kJson);
    });
  }
  server.Get("/api/v1/blocklist.txt",
             [&view](const httplib::Request& req, httplib::Response& res) { serve_blocklist(view, req, res); });
  server.Get("/api/v1/hosts", [&view](const httplib::Request&, httplib::Response& res) {
    auto hosts = view.hosts().hosts();
    if (!hosts) return json_error(res, 503, "the aggregator's loop did not answer in time; try again");
    res.set_content(common::hosts_json(*hosts), kJson);
  });
  server.Get("/metrics", [&metrics, &view](const httplib::Request&, httplib::Response& res) {
    std::string text = metrics.render_prometheus();
    // The per-host series need the loop's copy of the host table; without it, the rest still serves.
    // (A waiting member of an HA group has no loop to ask.)
    if (!metrics.waiting()) {
      if (auto hosts = view.hosts().hosts()) text += render_host_metrics(*hosts);
    }
    res.set_content(text, kPrometheus);
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", kText); });
  // Refused after the body is read, so that a keep-alive connection stays in step.
  server.Post(".*", method_not_allowed);
  server.Put(".*", method_not_allowed);
  server.Patch(".*", method_not_allowed);
  server.Delete(".*", method_not_allowed);
  server.Options(".*", method_not_allowed);
  // The methods httplib has no handlers for (CONNECT, TRACE, ...), which carry no body.
  server.set_pre_routing_handler([credentials, &metrics](const httplib::Request& req, httplib::Response& res) {
    if (!credentials) {
      // No password: only a Host a web page cannot rebind to this machine (DNS rebinding).
      if (!host_is_literal_or_localhost(req.get_header_value("Host"))) {
        refuse(res, 421, "misdirected request: use an IP address or localhost in the URL, or set http_auth_file\n");
        return httplib::Server::HandlerResponse::Handled;
      }
    } else if (req.path != "/healthz" && !credentials->allows(req.get_header_value("Authorization"))) {
      refuse(res, 401, "authentication required\n");
      res.set_header("WWW-Authenticate", R"(Basic realm="fleetban", charset="UTF-8")");
      return httplib::Server::HandlerResponse::Handled;
    }
    // A waiting member of an HA group holds no state: only its health and metrics are worth asking.
    if (metrics.waiting() && req.path != "/healthz" && req.path != "/metrics") {
      json_error(res, 503, "this aggregator is a waiting member of its HA group; ask the active one");
      return httplib::Server::HandlerResponse::Handled;
    }
    static const std::array kRouted{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    if (std::find(kRouted.begin(), kRouted.end(), req.method) != kRouted.end()) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    method_not_allowed(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      res.set_content(req.path.starts_with("/api/") ? R"({"error":"not found"})" : "not found\n",
                      req.path.starts_with("/api/") ? kJson : kText);
    }
  });
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("http_error path=\"{}\" error=\"{}\"", req.path, e.what());
    } catch (...) {
      spdlog::error("http_error path=\"{}\"", req.path);
    }
    res.status = 500;
    res.set_content("internal error\n", kText);
  });
  server.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
  });
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("http_request method={} path=\"{}\" status={}", req.method, req.path, res.status);
  });
  impl_->runner.start(address);
}

HttpServer::~HttpServer() = default;

}  // namespace fleetban::aggregator
