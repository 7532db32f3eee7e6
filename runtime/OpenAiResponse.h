// Replies in the shape of OpenAI's API: the chat.completion and text_completion objects built from a
// GenerationResult (ids, usage, tool calls, logprobs, finish_reason), and the chunks of a streamed reply. Used by the
// server (runtime/Server.h) and by the CLI's --json output, so both speak the same format.
#pragma once

#include "runtime/Generator.h"
#include "runtime/Tokenizer.h"
#include "runtime/ToolCalls.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

/// What every object of one reply shares: its id ("chatcmpl-…" or "cmpl-…"), the model name and the creation time.
struct ResponseInfo {
  std::string id;
  std::string model;
  int64_t created = 0; ///< Unix seconds
};

/// A fresh info, created now, for a chat reply ("chatcmpl-" + 24 random letters and digits) or a completion
/// ("cmpl-…").
ResponseInfo newChatResponseInfo(std::string model);
ResponseInfo newCompletionResponseInfo(std::string model);
/// A fresh tool-call id: "call_" + 24 random letters and digits.
std::string newToolCallId();

/// OpenAI's finish_reason: "tool_calls" when the reply holds calls, else "stop" (end of generation, a stop string,
/// an interrupted reply) or "length" (max tokens, full context).
const char *finishReason(StopReason reason, bool hasToolCalls);

/// {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details": {"cached_tokens"}}; cached tokens
/// are the prompt tokens the model did not have to process again (promptTokens - evaluatedPromptTokens).
nlohmann::ordered_json usageJson(const GenerationResult &result);

/// One call as OpenAI returns it: {"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}.
nlohmann::ordered_json openAiToolCallJson(const ToolCall &call, const std::string &id);

/// Chat logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]}.
/// "token" is the token's bytes as valid UTF-8 (U+FFFD for bytes that are part of a character split across tokens);
/// "bytes" is exact. `renderSpecial`: control tokens show their text (else "").
nlohmann::ordered_json chatLogprobsJson(const std::vector<TokenLogprobs> &logprobs, const Tokenizer &tokenizer,
                                        bool renderSpecial);
/// Completion logprobs: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}.
nlohmann::ordered_json completionLogprobsJson(const std::vector<TokenLogprobs> &logprobs, const Tokenizer &tokenizer,
                                              bool renderSpecial);

/// How a chat reply becomes a message.
struct ChatReplyOptions {
  bool toolCalls = true;      ///< split `<tool_call>` blocks into message.tool_calls (false: the text stays content)
  bool logprobs = false;      ///< add choices[0].logprobs (GenerationLimits::topLogprobs ≥ 0 must have been set)
  bool renderSpecial = false; ///< how logprob tokens show control tokens
};

/// The content and calls of a chat reply (runtime/ToolCallStream.h splitToolCalls), with the call ids assigned.
struct ChatReply {
  std::optional<std::string> content; ///< nullopt (JSON null) when the reply is only tool calls
  std::vector<ToolCall> toolCalls;
  std::vector<std::string> toolCallIds;
};
ChatReply splitChatReply(const std::string &text, bool toolCalls);

/// The whole chat.completion object: {"id", "object": "chat.completion", "created", "model", "choices": [{"index": 0,
/// "message": {"role": "assistant", "content", "tool_calls"?}, "logprobs", "finish_reason"}], "usage"}.
nlohmann::ordered_json chatCompletionJson(const GenerationResult &result, const Tokenizer &tokenizer,
                                          const ResponseInfo &info, const ChatReplyOptions &options);
/// The whole text_completion object: {"id", "object": "text_completion", "created", "model", "choices": [{"index": 0,
/// "text", "logprobs", "finish_reason"}], "usage"}.
nlohmann::ordered_json textCompletionJson(const GenerationResult &result, const Tokenizer &tokenizer,
                                          const ResponseInfo &info, bool logprobs, bool renderSpecial = false);

/// One streamed chat.completion.chunk with `delta` in choices[0] and finish_reason (null when empty), plus
/// "logprobs" when given.
nlohmann::ordered_json chatChunkJson(const ResponseInfo &info, nlohmann::ordered_json delta,
                                     std::string_view finishReason = {},
                                     const nlohmann::ordered_json &logprobs = nullptr);
/// One streamed text_completion chunk (the legacy completions stream has the same object name as the reply).
nlohmann::ordered_json completionChunkJson(const ResponseInfo &info, std::string_view text,
                                           std::string_view finishReason = {},
                                           const nlohmann::ordered_json &logprobs = nullptr);
/// The final chunk of stream_options.include_usage: empty choices and the usage.
nlohmann::ordered_json usageChunkJson(const ResponseInfo &info, const char *object, const GenerationResult &result);

/// `json` as one line of valid UTF-8 (invalid bytes in strings become U+FFFD; they never should occur).
std::string dumpJson(const nlohmann::ordered_json &json);

} // namespace granite::runtime
