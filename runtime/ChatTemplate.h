// The Granite 4.0 chat template (spec §5), rendered natively and byte for byte like the Jinja template in the
// GGUF: system turn assembly (system text, tools block, documents block, or the default system prompt), user,
// assistant (with tool calls in history) and tool turns, and the generation prompt.
#pragma once

#include "runtime/TextSpan.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

/// A conversation the template cannot render (wrong JSON shape, unknown role). One line naming the message.
class ChatTemplateError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

extern const char *const kGraniteDefaultSystemPrompt;

/// A rendered conversation. Special-token text in the template's own markup and in assistant replies (model output)
/// is meant to become single ids; the literal spans hold text that users supplied (system, user and tool content,
/// tools, documents, tool-call names and arguments), where it stays ordinary text unless --special is given.
struct RenderedChat {
  std::string text;
  std::vector<TextSpan> literalSpans; ///< ascending, non-overlapping
};

/// Renders OpenAI-style input: `messages` is an array of {"role", "content", "tool_calls"?} (roles system, user,
/// assistant, tool; content a string, an array of {"type": "text", "text"} parts, or null); `tools` and
/// `documents` are arrays (or null) serialized with tojson. Encode the result with Tokenizer::encodeTemplate.
RenderedChat renderGraniteChat(const nlohmann::ordered_json &messages, const nlohmann::ordered_json &tools,
                               const nlohmann::ordered_json &documents, bool addGenerationPrompt);

/// Whether a GGUF `tokenizer.chat_template` belongs to the Granite 4.0 family this renderer implements (the way
/// llama.cpp detects it: `<|start_of_role|>` plus `<tool_call>` or `<tools>`). The compiler warns when it does not.
bool isGranite4ChatTemplate(std::string_view jinjaTemplate);

} // namespace granite::runtime
