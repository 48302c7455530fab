// Headless Chromium (Debian's `chromium`) for the dashboard tests: the DOM a real browser builds
// from a page, and screenshots kept in the build directory. No driver: one process a page.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace fleetban::testing {

// The browser on PATH, if any.
inline std::optional<std::string> find_chromium() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const auto candidate = std::filesystem::path(dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return std::nullopt;
}

// The flags every run takes: no sandbox (tests run as root), nothing fetched but the page.
inline std::vector<std::string> chromium_argv(const std::string& chromium, const std::filesystem::path& profile) {
  return {chromium,
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--hide-scrollbars",
          "--user-data-dir=" + profile.string()};
}

// The DOM of `url` after the browser has built it (stdout).
inline RunResult chromium_dump_dom(const std::string& chromium, const std::filesystem::path& profile,
                                   const std::string& url) {
  auto argv = chromium_argv(chromium, profile);
  argv.push_back("--dump-dom");
  argv.push_back(url);
  return run(argv, std::chrono::seconds(90));
}

// A PNG of `url` at `width` x `height` CSS pixels, written to `png`.
inline RunResult chromium_screenshot(const std::string& chromium, const std::filesystem::path& profile,
                                     const std::string& url, const std::filesystem::path& png, int width = 1280,
                                     int height = 2000) {
  std::filesystem::create_directories(png.parent_path());
  auto argv = chromium_argv(chromium, profile);
  argv.push_back("--window-size=" + std::to_string(width) + "," + std::to_string(height));
  argv.push_back("--screenshot=" + png.string());
  argv.push_back(url);
  return run(argv, std::chrono::seconds(90));
}

}  // namespace fleetban::testing
