// Reply objects in OpenAI's shape (runtime/OpenAiResponse.h) and the streamed tool-call split
// (runtime/ToolCallStream.h).
#include "runtime/OpenAiResponse.h"
#include "GraniteVocabularyFixture.h"
#include "runtime/ToolCallStream.h"

#include <gtest/gtest.h>

namespace granite::runtime {
namespace {

using Json = nlohmann::ordered_json;

const ResponseInfo kInfo{"chatcmpl-test", "granite-test", 1700000000};

GenerationResult resultWithText(std::string text, StopReason reason = StopReason::EndOfGeneration) {
  GenerationResult result;
  result.text = std::move(text);
  result.ids = {1, 2, 3};
  result.promptTokens = 20;
  result.evaluatedPromptTokens = 5;
  result.stopReason = reason;
  return result;
}

TEST(OpenAiResponse, FinishReasons) {
  EXPECT_STREQ(finishReason(StopReason::EndOfGeneration, false), "stop");
  EXPECT_STREQ(finishReason(StopReason::StopString, false), "stop");
  EXPECT_STREQ(finishReason(StopReason::MaxTokens, false), "length");
  EXPECT_STREQ(finishReason(StopReason::ContextFull, false), "length");
  EXPECT_STREQ(finishReason(StopReason::EndOfGeneration, true), "tool_calls");
}

TEST(OpenAiResponse, ChatCompletionShapeAndUsage) {
  Json reply = chatCompletionJson(resultWithText("Hello!"), testing::graniteTokenizer(), kInfo, {});
  EXPECT_EQ(reply["id"], "chatcmpl-test");
  EXPECT_EQ(reply["object"], "chat.completion");
  EXPECT_EQ(reply["created"], 1700000000);
  EXPECT_EQ(reply["model"], "granite-test");
  const Json &choice = reply["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["message"], (Json{{"role", "assistant"}, {"content", "Hello!"}}));
  EXPECT_TRUE(choice["logprobs"].is_null());
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(reply["usage"], Json::parse(R"({"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23,
                                            "prompt_tokens_details": {"cached_tokens": 15}})"));
}

TEST(OpenAiResponse, ToolCallsBecomeMessageToolCalls) {
  std::string text = "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
                     "</tool_call>";
  Json reply = chatCompletionJson(resultWithText(text), testing::graniteTokenizer(), kInfo, {});
  const Json &message = reply["choices"][0]["message"];
  EXPECT_EQ(message["content"], "Let me look.");
  ASSERT_EQ(message["tool_calls"].size(), 1u);
  const Json &call = message["tool_calls"][0];
  EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  // Written the way the chat template writes it back, so the history re-renders what the model produced.
  EXPECT_EQ(call["function"]["arguments"], "{\"city\": \"Paris\"}");
  EXPECT_EQ(reply["choices"][0]["finish_reason"], "tool_calls");

  ChatReplyOptions noTools;
  noTools.toolCalls = false;
  Json plain = chatCompletionJson(resultWithText(text), testing::graniteTokenizer(), kInfo, noTools);
  EXPECT_EQ(plain["choices"][0]["message"]["content"], text);
  EXPECT_FALSE(plain["choices"][0]["message"].contains("tool_calls"));
  EXPECT_EQ(plain["choices"][0]["finish_reason"], "stop");
}

TEST(OpenAiResponse, OnlyToolCallsMeansNullContent) {
  std::string text = "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n"
                     "{\"name\": \"b\", \"arguments\": {\"x\": 1}}\n</tool_call>";
  Json reply = chatCompletionJson(resultWithText(text), testing::graniteTokenizer(), kInfo, {});
  const Json &message = reply["choices"][0]["message"];
  EXPECT_TRUE(message["content"].is_null());
  ASSERT_EQ(message["tool_calls"].size(), 2u);
  EXPECT_NE(message["tool_calls"][0]["id"], message["tool_calls"][1]["id"]);
  EXPECT_EQ(message["tool_calls"][1]["function"]["arguments"], "{\"x\": 1}");
}

TEST(OpenAiResponse, LogprobsOfChatAndCompletion) {
  Tokenizer &tokenizer = testing::graniteTokenizer();
  std::vector<int32_t> ids = tokenizer.encode("Hi there", false);
  ASSERT_EQ(ids.size(), 2u);
  GenerationResult result = resultWithText("Hi there", StopReason::MaxTokens);
  result.ids = ids;
  result.logprobs = {{{ids[0], -0.5f}, {{ids[0], -0.5f}, {ids[1], -2.0f}}}, {{ids[1], -0.25f}, {{ids[1], -0.25f}}}};

  ChatReplyOptions options;
  options.logprobs = true;
  Json chat = chatCompletionJson(result, tokenizer, kInfo, options)["choices"][0];
  EXPECT_EQ(chat["finish_reason"], "length");
  const Json &content = chat["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["token"], "Hi");
  EXPECT_FLOAT_EQ(content[0]["logprob"].get<float>(), -0.5f);
  EXPECT_EQ(content[0]["bytes"], Json({72, 105}));
  EXPECT_EQ(content[0]["top_logprobs"][1]["token"], " there");
  EXPECT_EQ(content[1]["top_logprobs"].size(), 1u);

  Json completion = textCompletionJson(result, tokenizer, ResponseInfo{"cmpl-x", "m", 1}, true);
  EXPECT_EQ(completion["object"], "text_completion");
  const Json &logprobs = completion["choices"][0]["logprobs"];
  EXPECT_EQ(logprobs["tokens"], Json({"Hi", " there"}));
  EXPECT_EQ(logprobs["text_offset"], Json({0, 2}));
  EXPECT_FLOAT_EQ(logprobs["top_logprobs"][0][" there"].get<float>(), -2.0f);
}

TEST(OpenAiResponse, LogprobTokensAreValidUtf8WithExactBytes) {
  Tokenizer &tokenizer = testing::graniteTokenizer();
  // A lone byte token of a character split across tokens.
  int32_t loneByte = tokenizer.encode("\xC3", false).at(0);
  GenerationResult result = resultWithText("x");
  result.logprobs = {{{loneByte, -1.0f}, {}}};
  ChatReplyOptions options;
  options.logprobs = true;
  Json token = chatCompletionJson(result, tokenizer, kInfo, options)["choices"][0]["logprobs"]["content"][0];
  EXPECT_EQ(token["token"], "\xEF\xBF\xBD");
  EXPECT_EQ(token["bytes"], Json({0xC3}));
}

TEST(OpenAiResponse, StreamChunks) {
  Json chunk = chatChunkJson(kInfo, Json{{"content", "Hel"}});
  EXPECT_EQ(chunk["object"], "chat.completion.chunk");
  EXPECT_EQ(chunk["choices"][0]["delta"]["content"], "Hel");
  EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(chatChunkJson(kInfo, Json::object(), "length")["choices"][0]["finish_reason"], "length");
  Json usage = usageChunkJson(kInfo, "chat.completion.chunk", resultWithText("x"));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 23);
  EXPECT_EQ(completionChunkJson(kInfo, "abc")["choices"][0]["text"], "abc");
}

/// The split of `reply` fed in pieces of `size` bytes.
SplitReply splitInPieces(std::string_view reply, size_t size) {
  ToolCallStream stream;
  SplitReply split;
  auto take = [&](std::vector<ToolCallStream::Event> events) {
    for (ToolCallStream::Event &event : events) {
      if (event.isCall)
        split.calls.push_back(std::move(event.call));
      else
        split.content += event.content;
    }
  };
  for (size_t pos = 0; pos < reply.size(); pos += size) take(stream.push(reply.substr(pos, size)));
  take(stream.finish());
  return split;
}

TEST(ToolCallStream, PiecesGiveWhatTheWholeReplyGives) {
  const std::string replies[] = {
      "plain text with < and <tool and </ inside",
      "Sure.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>",
      "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"g\", "
      "\"arguments\": {\"s\": \"</tool\"}}\n</tool_call>\nDone.",
      "before <tool_call>{not json}</tool_call> after",
      "unterminated <tool_call>\n{\"name\": \"f\"",
      "ends with a partial tag <tool_ca",
      "trailing spaces stay  \n",
  };
  for (const std::string &reply : replies) {
    SplitReply whole = splitToolCalls(reply);
    for (size_t size : {1u, 2u, 3u, 7u, 100u}) {
      SplitReply pieces = splitInPieces(reply, size);
      EXPECT_EQ(pieces.content, whole.content) << reply << " in pieces of " << size;
      ASSERT_EQ(pieces.calls.size(), whole.calls.size()) << reply;
      for (size_t i = 0; i < whole.calls.size(); ++i) {
        EXPECT_EQ(pieces.calls[i].name, whole.calls[i].name);
        EXPECT_EQ(pieces.calls[i].arguments, whole.calls[i].arguments);
      }
    }
  }
}

TEST(ToolCallStream, SplitsContentAndCalls) {
  SplitReply split = splitToolCalls("Checking.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n"
                                    "<tool_call>\n{\"name\": \"g\", \"arguments\": {\"s\": \"x\"}}\n"
                                    "</tool_call>\nDone.");
  EXPECT_EQ(split.content, "Checking.\nDone.");
  ASSERT_EQ(split.calls.size(), 2u);
  EXPECT_EQ(split.calls[0].name, "f");
  EXPECT_EQ(split.calls[1].arguments, Json::parse(R"({"s": "x"})"));

  // A block that is not a usable call stays in the content as the model wrote it.
  EXPECT_EQ(splitToolCalls("a <tool_call>{oops}</tool_call> b").content, "a<tool_call>{oops}</tool_call> b");
  EXPECT_EQ(splitToolCalls("<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n\nThen.").content,
            "Then.");
  EXPECT_EQ(splitToolCalls("x <tool_call>{\"name\": \"f\"").content, "x<tool_call>{\"name\": \"f\"");
  EXPECT_EQ(splitToolCalls("no calls here  ").content, "no calls here  ");
}

TEST(ToolCallStream, HoldsBackOnlyWhatMayBecomeABlock) {
  ToolCallStream stream;
  auto text = [](const std::vector<ToolCallStream::Event> &events) {
    std::string all;
    for (const auto &event : events) all += event.isCall ? "[call]" : event.content;
    return all;
  };
  EXPECT_EQ(text(stream.push("Hello <to")), "Hello");
  EXPECT_EQ(text(stream.push("ol")), "");
  EXPECT_EQ(text(stream.push("box> ok")), " <toolbox> ok");
  EXPECT_EQ(text(stream.push(" <tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_")), "");
  EXPECT_EQ(text(stream.push("call>\n")), "[call]");
  EXPECT_EQ(text(stream.finish()), "");
}

} // namespace
} // namespace granite::runtime
