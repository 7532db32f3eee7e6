// Request parsing and validation of the OpenAI-compatible server (runtime/OpenAiRequest.h).
#include "runtime/OpenAiRequest.h"

#include <gtest/gtest.h>

namespace granite::runtime {
namespace {

using Json = nlohmann::ordered_json;

constexpr int32_t kVocab = 1000;

Json chatBody(Json extra = Json::object()) {
  Json body{{"model", "m"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (auto &[key, value] : extra.items()) body[key] = value;
  return body;
}

/// The ApiError a chat body raises (status 0 if none).
ApiError chatError(const Json &body) {
  try {
    parseChatRequest(body.dump(), kVocab);
  } catch (const ApiError &error) {
    return error;
  }
  return ApiError(0, "no error");
}

ApiError completionError(const Json &body) {
  try {
    parseCompletionRequest(body.dump(), kVocab);
  } catch (const ApiError &error) {
    return error;
  }
  return ApiError(0, "no error");
}

const Json kWeatherTool = Json::parse(R"({"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})");

TEST(OpenAiRequest, ReadsEverySamplingField) {
  OpenAiRequest request = parseChatRequest(chatBody({{"temperature", 0.7},
                                                     {"top_p", 0.9},
                                                     {"top_k", 20},
                                                     {"min_p", 0.1},
                                                     {"max_tokens", 50},
                                                     {"stop", "END"},
                                                     {"seed", 42},
                                                     {"presence_penalty", 0.5},
                                                     {"frequency_penalty", -0.5},
                                                     {"logit_bias", {{"17", -100}, {"3", 2.5}}},
                                                     {"logprobs", true},
                                                     {"top_logprobs", 4},
                                                     {"stream", true},
                                                     {"stream_options", {{"include_usage", true}}}})
                                               .dump(),
                                           kVocab);
  EXPECT_TRUE(request.chat);
  EXPECT_FLOAT_EQ(*request.temperature, 0.7f);
  EXPECT_FLOAT_EQ(*request.topP, 0.9f);
  EXPECT_EQ(*request.topK, 20);
  EXPECT_FLOAT_EQ(*request.minP, 0.1f);
  EXPECT_EQ(request.maxTokens, 50);
  EXPECT_EQ(request.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(*request.seed, 42u);
  EXPECT_FLOAT_EQ(*request.presencePenalty, 0.5f);
  EXPECT_FLOAT_EQ(*request.frequencyPenalty, -0.5f);
  ASSERT_EQ(request.logitBias.size(), 2u);
  EXPECT_EQ(request.logitBias[0], std::make_pair(17, -100.0f));
  EXPECT_EQ(request.logitBias[1], std::make_pair(3, 2.5f));
  EXPECT_TRUE(request.logprobs);
  EXPECT_EQ(request.topLogprobs, 4);
  EXPECT_TRUE(request.stream);
  EXPECT_TRUE(request.includeUsage);

  SamplingParams defaults;
  defaults.repeatPenalty = 1.3f;
  SamplingParams sampling = samplingFor(request, defaults, 7);
  EXPECT_FLOAT_EQ(sampling.temperature, 0.7f);
  EXPECT_EQ(sampling.topK, 20);
  EXPECT_FLOAT_EQ(sampling.repeatPenalty, 1.3f); // not an OpenAI field: the server's default stays
  EXPECT_EQ(sampling.seed, 42u);
  EXPECT_EQ(sampling.logitBias.size(), 2u);
}

TEST(OpenAiRequest, UnsetFieldsKeepTheServerDefaults) {
  OpenAiRequest request = parseChatRequest(chatBody({{"temperature", nullptr}}).dump(), kVocab);
  SamplingParams defaults;
  defaults.temperature = 0.3f;
  defaults.topK = 5;
  SamplingParams sampling = samplingFor(request, defaults, 99);
  EXPECT_FLOAT_EQ(sampling.temperature, 0.3f);
  EXPECT_EQ(sampling.topK, 5);
  EXPECT_EQ(sampling.seed, 99u);
  EXPECT_EQ(request.maxTokens, -1);
  EXPECT_FALSE(request.stream);
}

TEST(OpenAiRequest, MaxCompletionTokensWinsOverMaxTokens) {
  OpenAiRequest request =
      parseChatRequest(chatBody({{"max_tokens", 10}, {"max_completion_tokens", 20}}).dump(), kVocab);
  EXPECT_EQ(request.maxTokens, 20);
}

TEST(OpenAiRequest, UnknownFieldsAreRefusedLikeOpenAi) {
  ApiError error = chatError(chatBody({{"frobnicate", 1}}));
  EXPECT_EQ(error.status, 400);
  EXPECT_STREQ(error.what(), "Unrecognized request argument supplied: frobnicate");
  EXPECT_EQ(error.param, "frobnicate");
  Json json = error.toJson();
  EXPECT_EQ(json["error"]["type"], "invalid_request_error");
  EXPECT_EQ(json["error"]["param"], "frobnicate");
  EXPECT_EQ(json["error"]["code"], "unrecognized_argument");
}

TEST(OpenAiRequest, FieldsWithoutEffectAreAccepted) {
  EXPECT_NO_THROW(parseChatRequest(chatBody({{"user", "u"},
                                             {"metadata", {{"k", "v"}}},
                                             {"store", false},
                                             {"parallel_tool_calls", true},
                                             {"n", 1},
                                             {"service_tier", "auto"},
                                             {"response_format", {{"type", "text"}}}})
                                       .dump(),
                                   kVocab));
}

TEST(OpenAiRequest, FieldsThatWouldChangeTheOutputAreRefusedByName) {
  EXPECT_EQ(chatError(chatBody({{"n", 2}})).param, "n");
  EXPECT_EQ(chatError(chatBody({{"response_format", {{"type", "grammar"}}}})).param, "response_format.type");
  EXPECT_EQ(chatError(chatBody({{"functions", Json::array()}})).param, "functions");
  EXPECT_EQ(chatError(chatBody({{"audio", {{"voice", "x"}}}})).param, "audio");
  EXPECT_EQ(chatError(chatBody({{"modalities", {"text", "audio"}}})).param, "modalities");
  EXPECT_EQ(completionError({{"prompt", "x"}, {"echo", true}}).param, "echo");
  EXPECT_EQ(completionError({{"prompt", "x"}, {"best_of", 3}}).param, "best_of");
  EXPECT_EQ(completionError({{"prompt", "x"}, {"suffix", "tail"}}).param, "suffix");
}

TEST(OpenAiRequest, StructuredOutputCompilesTheSchemaOr400s) {
  EXPECT_FALSE(parseChatRequest(chatBody().dump(), kVocab).grammar);
  EXPECT_TRUE(parseChatRequest(chatBody({{"response_format", {{"type", "json_object"}}}}).dump(), kVocab).grammar);
  Json schema{{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}, {"required", {"a"}}};
  OpenAiRequest strict = parseChatRequest(
      chatBody({{"response_format",
                 {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"strict", true}, {"schema", schema}}}}}})
          .dump(),
      kVocab);
  EXPECT_TRUE(strict.grammar);
  EXPECT_FALSE(strict.toolCallGrammar);

  Json pattern{{"type", "string"}, {"pattern", "a+"}};
  ApiError unsupported = chatError(chatBody(
      {{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", pattern}}}}}}));
  EXPECT_EQ(unsupported.status, 400);
  EXPECT_EQ(unsupported.param, "response_format.json_schema.schema");
  EXPECT_EQ(std::string(unsupported.what()),
            "'response_format.json_schema.schema': unsupported JSON Schema keyword 'pattern' (at the root)");
  Json empty{{"enum", Json::array()}};
  EXPECT_EQ(chatError(chatBody({{"response_format",
                                 {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", empty}}}}}}))
                .param,
            "response_format.json_schema.schema");
  EXPECT_EQ(chatError(chatBody({{"response_format", {{"type", "json_schema"}}}})).param, "response_format.json_schema");

  // tool_choice naming a function (or "required") constrains the reply to a call of it.
  Json named{{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  OpenAiRequest call = parseChatRequest(chatBody({{"tools", {kWeatherTool}}, {"tool_choice", named}}).dump(), kVocab);
  EXPECT_TRUE(call.grammar);
  EXPECT_TRUE(call.toolCallGrammar);
  EXPECT_FALSE(parseChatRequest(chatBody({{"tools", {kWeatherTool}}}).dump(), kVocab).grammar); // auto
  Json time = kWeatherTool;
  time["function"]["name"] = "get_time";
  OpenAiRequest either =
      parseChatRequest(chatBody({{"tools", {kWeatherTool, time}}, {"tool_choice", "required"}}).dump(), kVocab);
  EXPECT_TRUE(either.grammar); // a union of the two calls, told apart by "name"
  EXPECT_TRUE(either.toolCallGrammar);
  Json badTool = kWeatherTool;
  badTool["function"]["parameters"]["properties"]["city"]["format"] = "city";
  ApiError toolError = chatError(chatBody({{"tools", {badTool}}, {"tool_choice", "required"}}));
  EXPECT_EQ(toolError.param, "tools[0].function.parameters");
  EXPECT_NE(std::string(toolError.what()).find("'format'"), std::string::npos) << toolError.what();
}

TEST(OpenAiRequest, BadJsonAndBadValuesAre400) {
  for (const char *body : {"{bad", "[1, 2]", "\"text\"", ""}) {
    try {
      parseChatRequest(body, kVocab);
      ADD_FAILURE() << body;
    } catch (const ApiError &error) {
      EXPECT_EQ(error.status, 400) << body;
    }
  }
  EXPECT_EQ(chatError(chatBody({{"temperature", 2.5}})).param, "temperature");
  EXPECT_EQ(chatError(chatBody({{"temperature", "hot"}})).param, "temperature");
  EXPECT_EQ(chatError(chatBody({{"top_p", 1.5}})).param, "top_p");
  EXPECT_EQ(chatError(chatBody({{"top_k", -1}})).param, "top_k");
  EXPECT_EQ(chatError(chatBody({{"max_tokens", 0}})).param, "max_tokens");
  EXPECT_EQ(chatError(chatBody({{"max_tokens", 1.5}})).param, "max_tokens");
  EXPECT_EQ(chatError(chatBody({{"stop", {"a", "b", "c", "d", "e"}}})).param, "stop");
  EXPECT_EQ(chatError(chatBody({{"stop", ""}})).param, "stop");
  EXPECT_EQ(chatError(chatBody({{"stop", 3}})).param, "stop");
  EXPECT_EQ(chatError(chatBody({{"logit_bias", {{"1000", 1}}}})).param, "logit_bias"); // past the vocabulary
  EXPECT_EQ(chatError(chatBody({{"logit_bias", {{"abc", 1}}}})).param, "logit_bias");
  EXPECT_EQ(chatError(chatBody({{"logit_bias", {{"5", 101}}}})).param, "logit_bias");
  EXPECT_EQ(chatError(chatBody({{"top_logprobs", 2}})).param, "top_logprobs"); // needs logprobs
  EXPECT_EQ(chatError(chatBody({{"logprobs", true}, {"top_logprobs", 21}})).param, "top_logprobs");
  EXPECT_EQ(chatError(chatBody({{"stream_options", {{"include_usage", true}}}})).param, "stream_options");
  EXPECT_EQ(chatError(chatBody({{"model", 5}})).param, "model");
}

TEST(OpenAiRequest, MessagesAreCheckedAndNormalized) {
  Json messages = Json::parse(R"([
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "weather?"}], "name": "ann"},
    {"role": "assistant", "content": null, "refusal": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
  ])");
  OpenAiRequest request = parseChatRequest(chatBody({{"messages", messages}}).dump(), kVocab);
  ASSERT_EQ(request.messages.size(), 4u);
  EXPECT_EQ(request.messages[0]["role"], "system");
  EXPECT_EQ(request.messages[1]["content"][0]["text"], "weather?");
  EXPECT_EQ(request.messages[2]["content"], "");
  EXPECT_EQ(request.messages[2]["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(request.messages[2]["tool_calls"][0]["function"]["arguments"], "{\"city\": \"Paris\"}");
  EXPECT_EQ(request.messages[3]["content"], "sunny");

  EXPECT_EQ(chatError(chatBody({{"messages", Json::array()}})).param, "messages");
  EXPECT_EQ(chatError(chatBody({{"messages", "hi"}})).param, "messages");
  EXPECT_EQ(chatError({{"model", "m"}}).param, "messages");
  EXPECT_EQ(chatError(chatBody({{"messages", {{{"role", "user"}}}}})).param, "messages[0].content");
  EXPECT_EQ(chatError(chatBody({{"messages", {{{"role", "tool"}, {"content", "x"}}}}})).param,
            "messages[0].tool_call_id");
  EXPECT_EQ(chatError(chatBody({{"messages", {{{"role", "user"}, {"content", "x"}, {"color", "red"}}}}})).param,
            "messages[0].color");
  Json image = {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}}}}};
  EXPECT_EQ(chatError(chatBody({{"messages", image}})).param, "messages[0].content[0].type");
  Json badCall = {{{"role", "assistant"}, {"tool_calls", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}}};
  EXPECT_EQ(chatError(chatBody({{"messages", badCall}})).param, "messages[0].tool_calls[0].function.arguments");
}

TEST(OpenAiRequest, ToolsAndToolChoice) {
  OpenAiRequest automatic = parseChatRequest(chatBody({{"tools", {kWeatherTool}}}).dump(), kVocab);
  EXPECT_EQ(automatic.toolChoice.mode, ToolChoice::Mode::Auto);
  EXPECT_TRUE(automatic.parsesToolCalls());
  EXPECT_EQ(automatic.renderedTools().size(), 1u);

  OpenAiRequest none = parseChatRequest(chatBody({{"tools", {kWeatherTool}}, {"tool_choice", "none"}}).dump(), kVocab);
  EXPECT_FALSE(none.parsesToolCalls());
  EXPECT_TRUE(none.renderedTools().is_null());

  Json other = kWeatherTool;
  other["function"]["name"] = "get_time";
  Json named{{"type", "function"}, {"function", {{"name", "get_time"}}}};
  OpenAiRequest function =
      parseChatRequest(chatBody({{"tools", {kWeatherTool, other}}, {"tool_choice", named}}).dump(), kVocab);
  EXPECT_EQ(function.toolChoice.mode, ToolChoice::Mode::Function);
  ASSERT_EQ(function.renderedTools().size(), 1u);
  EXPECT_EQ(function.renderedTools()[0]["function"]["name"], "get_time");

  EXPECT_EQ(parseChatRequest(chatBody({{"tools", {kWeatherTool}}, {"tool_choice", "required"}}).dump(), kVocab)
                .toolChoice.mode,
            ToolChoice::Mode::Required);
  EXPECT_FALSE(parseChatRequest(chatBody().dump(), kVocab).parsesToolCalls()); // no tools, nothing to parse

  EXPECT_EQ(chatError(chatBody({{"tool_choice", "required"}})).param, "tool_choice");
  EXPECT_EQ(chatError(chatBody({{"tools", {kWeatherTool}}, {"tool_choice", "sometimes"}})).param, "tool_choice");
  Json unknown{{"type", "function"}, {"function", {{"name", "nope"}}}};
  EXPECT_EQ(chatError(chatBody({{"tools", {kWeatherTool}}, {"tool_choice", unknown}})).param, "tool_choice");
  EXPECT_EQ(chatError(chatBody({{"tools", Json::array()}})).param, "tools");
  EXPECT_EQ(chatError(chatBody({{"tools", {{{"type", "retrieval"}}}}})).param, "tools[0].type");
  Json badName = kWeatherTool;
  badName["function"]["name"] = "has space";
  EXPECT_EQ(chatError(chatBody({{"tools", {badName}}})).param, "tools[0].function.name");
}

TEST(OpenAiRequest, CompletionPrompts) {
  OpenAiRequest text = parseCompletionRequest(R"({"model": "m", "prompt": "Once", "logprobs": 3})", kVocab);
  EXPECT_FALSE(text.chat);
  EXPECT_EQ(text.prompt, "Once");
  EXPECT_TRUE(text.logprobs);
  EXPECT_EQ(text.topLogprobs, 3);
  EXPECT_EQ(parseCompletionRequest(R"({"prompt": ["Once"]})", kVocab).prompt, "Once");
  OpenAiRequest ids = parseCompletionRequest(R"({"prompt": [1, 2, 3]})", kVocab);
  ASSERT_TRUE(ids.promptIds);
  EXPECT_EQ(*ids.promptIds, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(*parseCompletionRequest(R"({"prompt": [[4, 5]]})", kVocab).promptIds, (std::vector<int32_t>{4, 5}));

  EXPECT_EQ(completionError({{"prompt", {"a", "b"}}}).param, "prompt");
  EXPECT_EQ(completionError({{"prompt", ""}}).param, "prompt");
  EXPECT_EQ(completionError({{"prompt", {1, 1000}}}).param, "prompt");
  EXPECT_EQ(completionError({{"model", "m"}}).param, "prompt");
  EXPECT_EQ(completionError({{"prompt", "x"}, {"logprobs", 6}}).param, "logprobs");
  EXPECT_EQ(completionError({{"prompt", "x"}, {"messages", Json::array()}}).param, "messages"); // a chat field
}

} // namespace
} // namespace granite::runtime
