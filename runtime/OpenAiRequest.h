// The body of an OpenAI-style request (/v1/chat/completions, /v1/completions) checked and turned into a plain struct.
// Every field that would change the output is either implemented or refused with 400 naming it; fields that change
// nothing here (user, metadata, store, ...) are accepted; a field OpenAI does not define is refused, as OpenAI does
// ("Unrecognized request argument supplied: X"). Nothing here touches the model or the tokenizer.
#pragma once

#include "runtime/JsonSchema.h"
#include "runtime/Sampler.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace granite::runtime {

/// A request the server refuses, as OpenAI's error object: {"error": {"message", "type", "param", "code"}}.
class ApiError : public std::runtime_error {
public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string param = "",
           std::string code = "")
      : std::runtime_error(message), status(status), type(std::move(type)), param(std::move(param)),
        code(std::move(code)) {}

  nlohmann::ordered_json toJson() const;

  int status;
  std::string type;
  std::string param; ///< empty: null
  std::string code;  ///< empty: null
};

struct ToolChoice {
  enum class Mode { Auto, None, Required, Function };
  Mode mode = Mode::Auto;
  std::string functionName; ///< Mode::Function
};

/// One chat or completion request, validated.
struct OpenAiRequest {
  bool chat = true; ///< /v1/chat/completions, else /v1/completions

  // Chat input, in the shape runtime/ChatTemplate.h renders (tool-call arguments kept as given).
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools; ///< null or a non-empty array of {"type": "function", "function": {...}}
  ToolChoice toolChoice;

  // Completion input: text, or token ids when the prompt was given as a list of integers.
  std::string prompt;
  std::optional<std::vector<int32_t>> promptIds;

  // Sampling; unset fields take the server's defaults (runtime/Server.h ServerOptions::defaults).
  std::optional<float> temperature, topP, minP, presencePenalty, frequencyPenalty;
  std::optional<int32_t> topK;
  std::optional<uint64_t> seed;
  std::vector<std::pair<int32_t, float>> logitBias;

  int32_t maxTokens = -1; ///< max_completion_tokens, else max_tokens; < 0: no limit
  std::vector<std::string> stop;
  bool logprobs = false;
  int32_t topLogprobs = 0; ///< alternatives per token when logprobs is set
  bool stream = false;
  bool includeUsage = false; ///< stream_options.include_usage

  /// Structured output (runtime/JsonSchema.h): the reply's JSON value for response_format json_object or
  /// json_schema, or the `<tool_call>` block's {"name", "arguments"} when tool_choice is "required" or names a
  /// function (toolCallGrammar). Null: unconstrained.
  std::shared_ptr<const JsonGrammar> grammar;
  bool toolCallGrammar = false;

  /// The tools the template renders: none for tool_choice "none", only the named one for a named function.
  nlohmann::ordered_json renderedTools() const;
  /// Whether `<tool_call>` blocks of the reply become tool_calls (not with tool_choice "none" or without tools).
  bool parsesToolCalls() const;
};

/// Parses a request body (the raw bytes). `vocabSize` bounds logit_bias ids and prompt ids. Throws ApiError (400).
OpenAiRequest parseChatRequest(const std::string &body, int32_t vocabSize);
OpenAiRequest parseCompletionRequest(const std::string &body, int32_t vocabSize);

/// The request's sampling on top of the server's defaults; `seed` when the request gives none.
SamplingParams samplingFor(const OpenAiRequest &request, const SamplingParams &defaults, uint64_t seed);

} // namespace granite::runtime
