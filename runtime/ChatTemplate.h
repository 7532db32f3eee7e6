// The Granite 4.0 chat template (spec §5), rendered natively and byte for byte like the Jinja template in the
// GGUF: system turn assembly (system text, tools block, documents block, or the default system prompt), user,
// assistant (with tool calls in history) and tool turns, and the generation prompt.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace granite::runtime {

/// A conversation the template cannot render (wrong JSON shape, unknown role). One line naming the message.
class ChatTemplateError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

extern const char *const kGraniteDefaultSystemPrompt;

/// Renders OpenAI-style input: `messages` is an array of {"role", "content", "tool_calls"?} (roles system, user,
/// assistant, tool; content a string, an array of {"type": "text", "text"} parts, or null); `tools` and
/// `documents` are arrays (or null) serialized with tojson. The result is text with special-token strings that
/// the tokenizer must encode with parseSpecial.
std::string renderGraniteChat(const nlohmann::ordered_json &messages, const nlohmann::ordered_json &tools,
                              const nlohmann::ordered_json &documents, bool addGenerationPrompt);

/// Whether a GGUF `tokenizer.chat_template` belongs to the Granite 4.0 family this renderer implements (the way
/// llama.cpp detects it: `<|start_of_role|>` plus `<tool_call>` or `<tools>`). The compiler warns when it does not.
bool isGranite4ChatTemplate(std::string_view jinjaTemplate);

} // namespace granite::runtime
