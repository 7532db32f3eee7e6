// Tool calls in model output: valid, several, and the errors malformed output must produce (never a crash).
#include "runtime/ToolCalls.h"

#include <gtest/gtest.h>

namespace granite::runtime::testing {
namespace {

TEST(ToolCalls, ParsesOneCall) {
  ParsedReply reply = parseToolCalls(
      "<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"city\": \"New York\"}}\n</tool_call>");
  ASSERT_EQ(reply.toolCalls.size(), 1u);
  EXPECT_EQ(reply.toolCalls[0].name, "get_current_weather");
  EXPECT_EQ(reply.toolCalls[0].arguments, nlohmann::ordered_json::parse(R"({"city": "New York"})"));
  EXPECT_EQ(reply.content, "");
  EXPECT_TRUE(reply.errors.empty());
  EXPECT_EQ(toolCallJson(reply.toolCalls[0]).dump(),
            R"({"name":"get_current_weather","arguments":{"city":"New York"}})");
}

TEST(ToolCalls, ParsesSeveralCallsInOrderAndKeepsTheContent) {
  ParsedReply reply =
      parseToolCalls("I'll check both.\n"
                     "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n"
                     "<tool_call>\n{\"name\": \"b\", \"arguments\": \"{\\\"y\\\": [2]}\"}\n</tool_call>");
  ASSERT_EQ(reply.toolCalls.size(), 2u);
  EXPECT_EQ(reply.toolCalls[0].name, "a");
  EXPECT_EQ(reply.toolCalls[1].name, "b");
  EXPECT_EQ(reply.toolCalls[1].arguments, nlohmann::ordered_json::parse(R"({"y": [2]})"));
  EXPECT_EQ(reply.content, "I'll check both.");
  EXPECT_TRUE(reply.errors.empty());
}

TEST(ToolCalls, ReportsMalformedJson) {
  ParsedReply reply = parseToolCalls("<tool_call>\n{\"name\": \"x\", \"arguments\": {\n</tool_call>"
                                     "<tool_call>\n{\"name\": \"ok\", \"arguments\": {}}\n</tool_call>");
  ASSERT_EQ(reply.errors.size(), 1u);
  EXPECT_EQ(reply.errors[0], "tool call at byte 0: malformed JSON");
  ASSERT_EQ(reply.toolCalls.size(), 1u);
  EXPECT_EQ(reply.toolCalls[0].name, "ok");
}

TEST(ToolCalls, ReportsAnUnterminatedTag) {
  ParsedReply reply = parseToolCalls("Sure. <tool_call>\n{\"name\": \"x\", \"arguments\": {}}");
  EXPECT_TRUE(reply.toolCalls.empty());
  ASSERT_EQ(reply.errors.size(), 1u);
  EXPECT_EQ(reply.errors[0], "<tool_call> at byte 6 is not terminated by </tool_call>");
  EXPECT_EQ(reply.content, "Sure.");
}

TEST(ToolCalls, ReportsCallsWithoutNameOrObjectArguments) {
  ParsedReply reply = parseToolCalls("<tool_call>[1]</tool_call><tool_call>{\"arguments\": {}}</tool_call>"
                                     "<tool_call>{\"name\": \"n\", \"arguments\": 3}</tool_call>"
                                     "<tool_call>{\"name\": \"n\"}</tool_call> </tool_call>");
  EXPECT_TRUE(reply.toolCalls.empty());
  ASSERT_EQ(reply.errors.size(), 5u);
  EXPECT_NE(reply.errors[0].find("not an object"), std::string::npos);
  EXPECT_NE(reply.errors[1].find("no string \"name\""), std::string::npos);
  EXPECT_NE(reply.errors[2].find("\"arguments\" is not a JSON object"), std::string::npos);
  EXPECT_NE(reply.errors[3].find("no \"arguments\""), std::string::npos);
  EXPECT_NE(reply.errors[4].find("closes no <tool_call>"), std::string::npos);
}

TEST(ToolCalls, LeavesPlainTextAlone) {
  ParsedReply reply = parseToolCalls("  Just text.\n");
  EXPECT_EQ(reply.content, "  Just text.\n");
  EXPECT_TRUE(reply.toolCalls.empty());
  EXPECT_TRUE(reply.errors.empty());
}

} // namespace
} // namespace granite::runtime::testing
