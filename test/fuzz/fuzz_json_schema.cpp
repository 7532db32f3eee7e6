// The JSON-schema compiler and the byte automaton it feeds: a schema text, then after a NUL byte the bytes to
// match. The schema compiles or is refused with SchemaError; the matcher takes bytes until it rejects one, and
// whatever it calls complete is one valid JSON value in valid UTF-8.
#include "FuzzSupport.h"

#include "runtime/JsonMatcher.h"
#include "runtime/JsonSchema.h"
#include "runtime/Utf8.h"

#include <nlohmann/json.hpp>

using namespace granite;
using Json = nlohmann::ordered_json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const auto [schemaText, candidate] = fuzz::splitAtNul(data, size);
  const Json schema = Json::parse(schemaText, nullptr, false);
  if (schema.is_discarded()) return 0;
  std::shared_ptr<const runtime::JsonGrammar> grammar;
  try {
    grammar = runtime::compileJsonSchema(schema);
  } catch (const runtime::SchemaError &) {
    return 0;
  }
  const runtime::JsonMatcher matcher(grammar);
  runtime::MatchStack stack = matcher.start();
  size_t accepted = 0;
  for (; accepted < candidate.size(); ++accepted) {
    if (!matcher.advance(stack, uint8_t(candidate[accepted]))) break;
    matcher.stringRoom(stack);
  }
  if (accepted == candidate.size() && matcher.complete(stack)) {
    fuzz::require(runtime::isValidUtf8(candidate), "a complete match is valid UTF-8");
    fuzz::require(Json::accept(candidate), "a complete match is valid JSON");
  }
  return 0;
}
