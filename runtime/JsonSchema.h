// JSON Schema → a grammar of JSON values that runtime/JsonGrammar.h matches byte by byte. Every value the grammar
// accepts is valid against the schema (it may accept fewer: object properties come in their declared order and only
// the declared ones). A keyword the grammar cannot enforce is an error naming it, never ignored; so is a schema that
// no value satisfies.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace granite::runtime {

/// A schema that cannot be compiled: unsupported keyword, malformed, or unsatisfiable. The message is one line.
class SchemaError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Sorted JSON texts (an enum's values, or an object's possible next keys as quoted strings), each with a tag.
struct LiteralSet {
  std::vector<std::string> texts;
  std::vector<int32_t> tags; ///< keys: the property index; values: unused
};

struct GrammarNode {
  enum class Kind : uint8_t { Object, Array, String, Number, Literals, Union };
  Kind kind = Kind::Union;

  // Object: properties in declared order; keySets[i] lists the keys that may come when the next property to
  // consider is i (the optional ones from i up to the first required one). freeKeys: any string keys, any values.
  struct Property {
    std::string name;
    int32_t node;
    bool required;
  };
  std::vector<Property> properties;
  std::vector<int32_t> keySets; ///< Literals nodes (-1: none), one per property index and one past the last
  bool freeKeys = false;
  /// A tagged union: the value of the one property (the tag) picks the object of variants[its literal's tag].
  std::vector<int32_t> variants;

  // Array
  int32_t items = -1;
  int64_t minItems = 0, maxItems = -1; ///< maxItems < 0: unbounded

  // String (lengths in Unicode code points)
  int64_t minLength = 0, maxLength = -1;

  // Number
  bool integer = false;
  bool bounded = false;
  double minimum = 0, maximum = 0; ///< when bounded (±infinity for an open side)

  // Literals
  int32_t literalSet = -1;

  // Union: the alternative that a value starting with each byte belongs to (-1: none).
  std::vector<int32_t> byFirstByte;
};

struct JsonGrammar {
  std::vector<GrammarNode> nodes;
  std::vector<LiteralSet> literalSets;
  int32_t root = -1;
  int32_t anyValue = -1;  ///< any JSON value (free objects' values, arrays without items)
  int32_t anyString = -1; ///< free objects' keys
};

/// Compiles a JSON Schema (draft 2020-12 subset: see docs/runtime.md). Throws SchemaError.
std::shared_ptr<const JsonGrammar> compileJsonSchema(const nlohmann::ordered_json &schema);
/// Any JSON object (OpenAI's response_format json_object).
std::shared_ptr<const JsonGrammar> anyJsonObjectGrammar();

} // namespace granite::runtime
