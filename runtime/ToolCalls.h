// Tool calls in a Granite reply: one `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>` block per call
// (spec §5). Parsing never throws on model output: malformed blocks become error messages.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace granite::runtime {

struct ToolCall {
  std::string name;
  nlohmann::ordered_json arguments; ///< a JSON object
};

struct ParsedReply {
  std::string content;             ///< the text outside the tool-call blocks
  std::vector<ToolCall> toolCalls; ///< in order of appearance
  std::vector<std::string> errors; ///< one line per block that could not be used
};

/// Splits a decoded reply (special tokens rendered or not: `<tool_call>` is a user-defined token, always text)
/// into content and calls. Surrounding whitespace of content is trimmed when the reply held any block.
ParsedReply parseToolCalls(std::string_view reply);

/// The call as the OpenAI-style history entry the chat template renders: {"name", "arguments"}.
nlohmann::ordered_json toolCallJson(const ToolCall &call);

} // namespace granite::runtime
