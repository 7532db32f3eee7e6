#include "runtime/OpenAiResponse.h"

#include "runtime/TemplateJson.h"
#include "runtime/ToolCallStream.h"
#include "runtime/Utf8.h"

#include <chrono>
#include <mutex>
#include <random>

namespace granite::runtime {
namespace {

using Json = nlohmann::ordered_json;

std::string randomSuffix(size_t length) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string suffix;
  for (size_t i = 0; i < length; ++i) suffix += kAlphabet[pick(random)];
  return suffix;
}

ResponseInfo newInfo(const char *prefix, std::string model) {
  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return ResponseInfo{prefix + randomSuffix(24), std::move(model), now};
}

Json byteList(std::string_view bytes) {
  Json list = Json::array();
  for (char c : bytes) list.push_back(static_cast<unsigned char>(c));
  return list;
}

Json chatTokenJson(const TokenCandidate &candidate, const Tokenizer &tokenizer, bool renderSpecial) {
  std::string_view bytes = tokenizer.tokenBytes(candidate.id, renderSpecial);
  return Json{{"token", toValidUtf8(bytes)}, {"logprob", candidate.logit}, {"bytes", byteList(bytes)}};
}

} // namespace

ResponseInfo newChatResponseInfo(std::string model) { return newInfo("chatcmpl-", std::move(model)); }
ResponseInfo newCompletionResponseInfo(std::string model) { return newInfo("cmpl-", std::move(model)); }
std::string newToolCallId() { return "call_" + randomSuffix(24); }

const char *finishReason(StopReason reason, bool hasToolCalls) {
  if (hasToolCalls) return "tool_calls";
  switch (reason) {
  case StopReason::MaxTokens:
  case StopReason::ContextFull: return "length";
  case StopReason::EndOfGeneration:
  case StopReason::StopString:
  case StopReason::Interrupted: break;
  }
  return "stop";
}

Json usageJson(const GenerationResult &result) {
  int64_t completion = static_cast<int64_t>(result.ids.size());
  return Json{{"prompt_tokens", result.promptTokens},
              {"completion_tokens", completion},
              {"total_tokens", result.promptTokens + completion},
              {"prompt_tokens_details", {{"cached_tokens", result.promptTokens - result.evaluatedPromptTokens}}}};
}

// The arguments are written the way the chat template writes them back (", " and ": "), so a client that returns
// the call in the history re-renders the text the model produced, and the state cache finds that prefix.
Json openAiToolCallJson(const ToolCall &call, const std::string &id) {
  return Json{{"id", id},
              {"type", "function"},
              {"function", {{"name", call.name}, {"arguments", toTemplateJson(call.arguments)}}}};
}

Json chatLogprobsJson(const std::vector<TokenLogprobs> &logprobs, const Tokenizer &tokenizer, bool renderSpecial) {
  Json content = Json::array();
  for (const TokenLogprobs &step : logprobs) {
    Json token = chatTokenJson(step.chosen, tokenizer, renderSpecial);
    Json top = Json::array();
    for (const TokenCandidate &candidate : step.top) top.push_back(chatTokenJson(candidate, tokenizer, renderSpecial));
    token["top_logprobs"] = std::move(top);
    content.push_back(std::move(token));
  }
  return Json{{"content", std::move(content)}};
}

Json completionLogprobsJson(const std::vector<TokenLogprobs> &logprobs, const Tokenizer &tokenizer,
                            bool renderSpecial) {
  Json tokens = Json::array(), tokenLogprobs = Json::array(), top = Json::array(), offsets = Json::array();
  size_t offset = 0;
  for (const TokenLogprobs &step : logprobs) {
    std::string_view bytes = tokenizer.tokenBytes(step.chosen.id, renderSpecial);
    tokens.push_back(toValidUtf8(bytes));
    tokenLogprobs.push_back(step.chosen.logit);
    Json alternatives = Json::object();
    for (const TokenCandidate &candidate : step.top)
      alternatives[toValidUtf8(tokenizer.tokenBytes(candidate.id, renderSpecial))] = candidate.logit;
    top.push_back(std::move(alternatives));
    offsets.push_back(offset);
    offset += bytes.size();
  }
  return Json{{"tokens", std::move(tokens)},
              {"token_logprobs", std::move(tokenLogprobs)},
              {"top_logprobs", std::move(top)},
              {"text_offset", std::move(offsets)}};
}

ChatReply splitChatReply(const std::string &text, bool toolCalls) {
  ChatReply reply;
  if (!toolCalls) {
    reply.content = text;
    return reply;
  }
  SplitReply split = splitToolCalls(text);
  reply.toolCalls = std::move(split.calls);
  for (size_t i = 0; i < reply.toolCalls.size(); ++i) reply.toolCallIds.push_back(newToolCallId());
  if (reply.toolCalls.empty() || !split.content.empty()) reply.content = std::move(split.content);
  return reply;
}

Json chatCompletionJson(const GenerationResult &result, const Tokenizer &tokenizer, const ResponseInfo &info,
                        const ChatReplyOptions &options) {
  ChatReply reply = splitChatReply(result.text, options.toolCalls);
  Json message{{"role", "assistant"}, {"content", reply.content ? Json(*reply.content) : Json()}};
  if (!reply.toolCalls.empty()) {
    Json calls = Json::array();
    for (size_t i = 0; i < reply.toolCalls.size(); ++i)
      calls.push_back(openAiToolCallJson(reply.toolCalls[i], reply.toolCallIds[i]));
    message["tool_calls"] = std::move(calls);
  }
  Json choice{
      {"index", 0},
      {"message", std::move(message)},
      {"logprobs", options.logprobs ? chatLogprobsJson(result.logprobs, tokenizer, options.renderSpecial) : Json()},
      {"finish_reason", finishReason(result.stopReason, !reply.toolCalls.empty())}};
  return Json{{"id", info.id},
              {"object", "chat.completion"},
              {"created", info.created},
              {"model", info.model},
              {"choices", Json::array({std::move(choice)})},
              {"usage", usageJson(result)}};
}

Json textCompletionJson(const GenerationResult &result, const Tokenizer &tokenizer, const ResponseInfo &info,
                        bool logprobs, bool renderSpecial) {
  Json choice{{"index", 0},
              {"text", result.text},
              {"logprobs", logprobs ? completionLogprobsJson(result.logprobs, tokenizer, renderSpecial) : Json()},
              {"finish_reason", finishReason(result.stopReason, false)}};
  return Json{{"id", info.id},
              {"object", "text_completion"},
              {"created", info.created},
              {"model", info.model},
              {"choices", Json::array({std::move(choice)})},
              {"usage", usageJson(result)}};
}

Json chatChunkJson(const ResponseInfo &info, Json delta, std::string_view finish, const Json &logprobs) {
  Json choice{{"index", 0},
              {"delta", std::move(delta)},
              {"logprobs", logprobs},
              {"finish_reason", finish.empty() ? Json() : Json(std::string(finish))}};
  return Json{{"id", info.id},
              {"object", "chat.completion.chunk"},
              {"created", info.created},
              {"model", info.model},
              {"choices", Json::array({std::move(choice)})}};
}

Json completionChunkJson(const ResponseInfo &info, std::string_view text, std::string_view finish,
                         const Json &logprobs) {
  Json choice{{"index", 0},
              {"text", std::string(text)},
              {"logprobs", logprobs},
              {"finish_reason", finish.empty() ? Json() : Json(std::string(finish))}};
  return Json{{"id", info.id},
              {"object", "text_completion"},
              {"created", info.created},
              {"model", info.model},
              {"choices", Json::array({std::move(choice)})}};
}

Json usageChunkJson(const ResponseInfo &info, const char *object, const GenerationResult &result) {
  return Json{{"id", info.id},       {"object", object},         {"created", info.created},
              {"model", info.model}, {"choices", Json::array()}, {"usage", usageJson(result)}};
}

std::string dumpJson(const Json &json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

} // namespace granite::runtime
