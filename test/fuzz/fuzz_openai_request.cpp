// The server's request parsing: a /v1/chat/completions (first byte odd) or /v1/completions body. It parses or is
// refused with ApiError; a parsed chat then renders (or is refused with ChatTemplateError) and encodes, as the
// server does, and its sampling settings resolve.
#include "FuzzSupport.h"

#include "runtime/ChatTemplate.h"
#include "runtime/JsonMatcher.h"
#include "runtime/OpenAiRequest.h"

#include <nlohmann/json.hpp>

using namespace granite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const bool chat = data[0] & 1;
  const std::string body(reinterpret_cast<const char *>(data + 1), size - 1);
  runtime::Tokenizer &tokenizer = fuzz::goldenTokenizer();
  runtime::OpenAiRequest request;
  try {
    request = chat ? runtime::parseChatRequest(body, tokenizer.size())
                   : runtime::parseCompletionRequest(body, tokenizer.size());
  } catch (const runtime::ApiError &error) {
    fuzz::require(error.status >= 400 && error.status < 500, "a refused request is a 4xx");
    error.toJson();
    return 0;
  }
  runtime::samplingFor(request, runtime::SamplingParams{}, 1);
  if (request.promptIds)
    for (int32_t id : *request.promptIds)
      fuzz::require(id >= 0 && id < tokenizer.size(), "prompt ids lie inside the vocabulary");
  for (const auto &[id, bias] : request.logitBias)
    fuzz::require(id >= 0 && id < tokenizer.size(), "logit_bias ids lie inside the vocabulary");
  if (request.grammar) {
    const runtime::JsonMatcher matcher(request.grammar);
    runtime::MatchStack stack = matcher.start();
    for (char byte : std::string_view("{\"a\": [1, 2.5, \"x\"], \"b\": null}"))
      if (!matcher.advance(stack, uint8_t(byte))) break;
  }
  if (!chat) return 0;
  try {
    const runtime::RenderedChat rendered =
        runtime::renderGraniteChat(request.messages, request.renderedTools(), nlohmann::ordered_json(), true);
    tokenizer.encodeTemplate(rendered.text, rendered.literalSpans);
  } catch (const runtime::ChatTemplateError &) {
  }
  request.parsesToolCalls();
  return 0;
}
