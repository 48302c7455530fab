// How a command in host.toml is split into words (common/command_words.hpp): the one rule that
// load_host_config checks commands by and the subscriber's backends run them by.

#include "common/command_words.hpp"

#include <gtest/gtest.h>

namespace {

using fleetban::common::split_command;
using Words = std::vector<std::string>;

Words words(std::string_view text) {
  auto split = split_command(text);
  EXPECT_TRUE(split) << text << ": " << split.error();
  return split ? *split : Words{};
}

TEST(CommandWords, SplitsOnWhitespace) {
  EXPECT_EQ(words("fail2ban-client  -s\t/run/f2b.sock\n"), (Words{"fail2ban-client", "-s", "/run/f2b.sock"}));
  EXPECT_EQ(words(""), Words{});
  EXPECT_EQ(words("   "), Words{});
}

TEST(CommandWords, QuotesKeepSpacesAndTagsStayAsWritten) {
  EXPECT_EQ(words("/bin/sh -c 'echo \"$1\" >> /tmp/x' sh <ip>"),
            (Words{"/bin/sh", "-c", "echo \"$1\" >> /tmp/x", "sh", "<ip>"}));
  EXPECT_EQ(words("a\"b c\"d"), Words{"ab cd"});
  EXPECT_EQ(words("''"), Words{""});  // an empty word is still a word
}

TEST(CommandWords, BackslashEscapesOutsideSingleQuotes) {
  EXPECT_EQ(words("a\\ b"), Words{"a b"});
  EXPECT_EQ(words("\"a\\\"b\\\\c\""), Words{"a\"b\\c"});
  EXPECT_EQ(words("'a\\b'"), Words{"a\\b"});
}

TEST(CommandWords, UnbalancedQuotesAndATrailingBackslashFail) {
  for (const char* bad : {"echo 'x", "echo \"x", "echo x\\", "'"}) {
    auto split = split_command(bad);
    ASSERT_FALSE(split) << bad;
    EXPECT_FALSE(split.error().empty());
  }
  EXPECT_NE(split_command("echo 'x").error().find("unbalanced '"), std::string::npos);
}

}  // namespace
