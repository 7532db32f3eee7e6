// The Granite chat template renderer on any JSON: an object {"messages", "tools", "documents",
// "add_generation_prompt"} (or a bare array of messages). It renders or refuses with ChatTemplateError; a rendered
// chat has ascending literal spans inside the text and encodes byte exactly with the golden tokenizer.
#include "FuzzSupport.h"

#include "runtime/ChatTemplate.h"
#include "runtime/TemplateJson.h"

#include <nlohmann/json.hpp>

using namespace granite;
using Json = nlohmann::ordered_json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view text(reinterpret_cast<const char *>(data), size);
  runtime::isGranite4ChatTemplate(text);
  const Json input = Json::parse(text, nullptr, false);
  if (input.is_discarded()) return 0;
  // Parsed JSON holds valid UTF-8 only, which toTemplateJson writes without refusing.
  runtime::toTemplateJson(input);
  const bool isObject = input.is_object();
  const Json messages = isObject ? input.value("messages", Json::array()) : input;
  const Json tools = isObject ? input.value("tools", Json()) : Json();
  const Json documents = isObject ? input.value("documents", Json()) : Json();
  const Json addPrompt = isObject ? input.value("add_generation_prompt", Json(true)) : Json(true);
  runtime::RenderedChat chat;
  try {
    chat = runtime::renderGraniteChat(messages, tools, documents, !addPrompt.is_boolean() || addPrompt.get<bool>());
  } catch (const runtime::ChatTemplateError &) {
    return 0;
  }
  size_t previousEnd = 0;
  for (const runtime::TextSpan &span : chat.literalSpans) {
    fuzz::require(span.offset >= previousEnd && span.length <= chat.text.size() - span.offset,
                  "literal spans are ascending, apart and inside the text");
    previousEnd = span.end();
  }
  runtime::Tokenizer &tokenizer = fuzz::goldenTokenizer();
  fuzz::require(tokenizer.decode(tokenizer.encodeTemplate(chat.text, chat.literalSpans), true) == chat.text,
                "the rendered chat encodes byte exactly");
  return 0;
}
