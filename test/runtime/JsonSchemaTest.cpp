// The schema compiler, the byte automaton and the token masks over the real Granite vocabulary. ajv checks the
// generated replies of a compiled model end to end (test/server/structured-output.test.mjs).
#include "runtime/JsonSchema.h"
#include "GraniteVocabularyFixture.h"
#include "runtime/JsonMatcher.h"
#include "runtime/TokenMask.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace granite::runtime;
using Json = nlohmann::ordered_json;
namespace fixture = granite::runtime::testing;

namespace {

bool matches(const std::shared_ptr<const JsonGrammar> &grammar, const std::string &text) {
  JsonMatcher matcher(grammar);
  MatchStack stack = matcher.start();
  for (char c : text)
    if (!matcher.advance(stack, uint8_t(c))) return false;
  return matcher.complete(stack);
}

bool matches(const char *schema, const std::string &text) {
  return matches(compileJsonSchema(Json::parse(schema)), text);
}

std::string schemaError(const char *schema) {
  try {
    compileJsonSchema(Json::parse(schema));
  } catch (const SchemaError &e) {
    return e.what();
  }
  return "(compiled)";
}

const std::shared_ptr<const VocabularyTrie> &trie() {
  static auto built = std::make_shared<const VocabularyTrie>(fixture::graniteTokenizer());
  return built;
}

/// Samples uniformly among the allowed ids until EOS or `maxTokens`; returns the text, or "" when incomplete.
std::string sampleReply(const std::shared_ptr<const JsonGrammar> &grammar, uint64_t seed, int maxTokens) {
  Tokenizer &tokenizer = fixture::graniteTokenizer();
  JsonConstraint constraint(grammar, trie(), tokenizer);
  std::mt19937_64 random(seed);
  std::string text;
  for (int step = 0; step < maxTokens; ++step) {
    const TokenMask &mask = constraint.allowed();
    std::vector<int32_t> ids;
    for (int32_t id = 0; id < tokenizer.size(); ++id)
      if (maskHas(mask, id)) ids.push_back(id);
    EXPECT_FALSE(ids.empty());
    if (ids.empty()) return "";
    // Favour EOS and short tokens, or a uniform draw would rarely end a string.
    int32_t id = ids[random() % ids.size()];
    if (maskHas(mask, tokenizer.eosId()) && random() % 2) id = tokenizer.eosId();
    constraint.accept(id);
    if (id == tokenizer.eosId()) return constraint.complete() ? text : "";
    text += tokenizer.tokenBytes(id, false);
  }
  return "";
}

} // namespace

TEST(JsonMatcher, AcceptsValuesOfTheSchemaOnly) {
  const char *person = R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 4},
      "age": {"type": "integer", "minimum": 0, "maximum": 120}, "tags": {"type": "array", "items": {"enum": ["a", "b"]},
      "maxItems": 2}}, "required": ["name"], "additionalProperties": false})";
  EXPECT_TRUE(matches(person, R"({"name": "Ann"})"));
  EXPECT_TRUE(matches(person, R"({"name":"Ann","age":42,"tags":["a","b"]})"));
  EXPECT_TRUE(matches(person, "{\n  \"name\": \"\\u00e9\", \"tags\": []\n}"));
  EXPECT_FALSE(matches(person, R"({"age": 42})"));               // name is required
  EXPECT_FALSE(matches(person, R"({"name": "Annie"})"));         // maxLength
  EXPECT_FALSE(matches(person, R"({"name": "A", "age": 121})")); // maximum
  EXPECT_FALSE(matches(person, R"({"name": "A", "age": -1})"));  // minimum
  EXPECT_FALSE(matches(person, R"({"name": "A", "tags": ["a","a","a"]})"));
  EXPECT_FALSE(matches(person, R"({"name": "A", "tags": ["c"]})"));
  EXPECT_FALSE(matches(person, R"({"name": "A", "x": 1})"));
  EXPECT_FALSE(matches(person, R"({"name": "A"}   x)"));
  EXPECT_FALSE(matches(person, R"({"name": "A")"));                              // incomplete
  EXPECT_FALSE(matches(person, "{\"name\": \"A\"" + std::string(9, ' ') + "}")); // too many blanks
  EXPECT_FALSE(matches(person, "{\"name\": \"\xC3\"}"));                         // broken UTF-8
  EXPECT_TRUE(matches(person, "{\"name\": \"\xC3\xA9t\xC3\xA9\"}"));             // 3 code points
}

TEST(JsonMatcher, NumbersAndUnions) {
  EXPECT_TRUE(matches(R"({"type": "number"})", "-12.5e+3"));
  EXPECT_FALSE(matches(R"({"type": "number"})", "012"));
  EXPECT_FALSE(matches(R"({"type": "integer"})", "1.5"));
  EXPECT_FALSE(matches(R"({"type": "integer"})", "1234567890123456")); // 16 digits
  EXPECT_TRUE(matches(R"({"type": "integer", "minimum": -5, "maximum": 250})", "-5"));
  EXPECT_FALSE(matches(R"({"type": "integer", "minimum": -5, "maximum": 250})", "-6"));
  EXPECT_FALSE(matches(R"({"type": "integer", "minimum": -5, "maximum": 250})", "251"));
  EXPECT_TRUE(matches(R"({"type": "number", "minimum": 0, "maximum": 1})", "0.25"));
  EXPECT_FALSE(matches(R"({"type": "number", "minimum": 0, "maximum": 1})", "1.5"));
  const char *nullable = R"({"type": ["string", "null"], "maxLength": 2})";
  EXPECT_TRUE(matches(nullable, "null"));
  EXPECT_TRUE(matches(nullable, R"("ab")"));
  EXPECT_FALSE(matches(nullable, "3"));
  const char *tree = R"({"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {
      "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["kids"]}}})";
  EXPECT_TRUE(matches(tree, R"({"kids": [{"kids": []}, {"kids": [{"kids": []}]}]})"));
  EXPECT_FALSE(matches(tree, R"({"kids": [{}]})"));
  const char *tagged = R"({"anyOf": [
      {"type": "object", "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind", "x"]},
      {"type": "object", "properties": {"kind": {"enum": ["b", "c"]}, "y": {"type": "string"}}, "required": ["kind"]},
      {"type": "null"}]})";
  EXPECT_TRUE(matches(tagged, R"({"kind": "a", "x": 1})"));
  EXPECT_TRUE(matches(tagged, R"({"kind": "c", "y": "s"})"));
  EXPECT_TRUE(matches(tagged, R"({"kind": "b"})"));
  EXPECT_TRUE(matches(tagged, "null"));
  EXPECT_FALSE(matches(tagged, R"({"kind": "a", "y": "s"})"));
  EXPECT_FALSE(matches(tagged, R"({"kind": "a"})"));
  EXPECT_FALSE(matches(tagged, R"({"x": 1})"));
  EXPECT_TRUE(matches(anyJsonObjectGrammar(), R"({"a": [1, {"b": null}], "c": "d"})"));
  EXPECT_FALSE(matches(anyJsonObjectGrammar(), "[1]"));
}

TEST(JsonSchema, RefusesWhatItCannotEnforce) {
  EXPECT_EQ(schemaError(R"({"type": "string", "pattern": "a+"})"),
            "unsupported JSON Schema keyword 'pattern' (at the root)");
  EXPECT_EQ(schemaError(R"({"type": "object", "properties": {"x": {"type": "string", "format": "date"}}})"),
            "unsupported JSON Schema keyword 'format' (at /properties/x)");
  EXPECT_EQ(schemaError(R"({"enum": []})"), "no value satisfies the schema: 'enum' holds no value (at the root)");
  EXPECT_EQ(schemaError(R"({"type": "integer", "enum": ["a"]})"),
            "no value satisfies the schema: 'enum' holds no value of its 'type' (at the root)");
  EXPECT_EQ(schemaError(R"({"type": "string", "minLength": 3, "maxLength": 2})"),
            "no value satisfies the schema: minLength > maxLength (at the root)");
  EXPECT_EQ(schemaError(R"({"type": "integer", "minimum": 0.2, "maximum": 0.8})"),
            "a range that holds no integer is not supported (at the root)");
  EXPECT_EQ(schemaError(R"({"anyOf": [{"type": "object"}, {"type": "object", "properties": {}}]})"),
            "anyOf/oneOf/type alternatives that can start with the same character '{' are not supported "
            "(alternatives must differ in type or first character, or be objects told apart by the const value of "
            "their first, required property) (at the root)");
  EXPECT_EQ(schemaError(R"({"$ref": "#/$defs/missing"})"),
            "'$ref' \"#/$defs/missing\" is not a local #/$defs/NAME that exists (at the root)");
  EXPECT_EQ(schemaError(R"({"type": "object", "required": ["a"], "properties": {}})"),
            "required property 'a' is not in 'properties', which is not supported (at the root)");
  EXPECT_EQ(schemaError(R"({"type": "string", "minimum": 1})"),
            "'minimum' does not apply to the schema's type (at the root)");
  EXPECT_EQ(schemaError(R"(false)"), "the schema false admits no value (at the root)");
  EXPECT_EQ(schemaError(R"({"$ref": "#/$defs/n", "$defs": {"n": {"type": "object", "properties": {
                "next": {"$ref": "#/$defs/n"}}, "required": ["next"]}}})"),
            "no finite value satisfies the schema: a $ref cycle through required properties or minItems never ends");
  EXPECT_EQ(schemaError(R"({"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}, "minItems": 1}},
                "type": "object", "properties": {"optional": {"$ref": "#/$defs/n"}}})"),
            "no finite value satisfies the schema: a $ref cycle through required properties or minItems never ends");
}

TEST(TokenMask, TrieHoldsOrdinaryTokensOnly) {
  Tokenizer &tokenizer = fixture::graniteTokenizer();
  const VocabularyTrie &vocabulary = *trie();
  std::vector<bool> seen(static_cast<size_t>(tokenizer.size()));
  for (size_t i = 0; i < vocabulary.nodes().size(); ++i)
    for (const int32_t *id = vocabulary.idsBegin(i); id != vocabulary.idsEnd(i); ++id) seen[*id] = true;
  EXPECT_FALSE(seen[tokenizer.eosId()]);
  EXPECT_FALSE(seen[tokenizer.findAddedToken("<tool_call>")]);
  EXPECT_TRUE(seen[tokenizer.encode("{\"", false).at(0)]);
}

TEST(TokenMask, MasksOnlyAllowValidContinuations) {
  Tokenizer &tokenizer = fixture::graniteTokenizer();
  auto grammar = compileJsonSchema(Json::parse(R"({"type": "object", "properties": {"ok": {"type": "boolean"}},
      "required": ["ok"], "additionalProperties": false})"));
  JsonConstraint constraint(grammar, trie(), tokenizer);
  const TokenMask &first = constraint.allowed();
  EXPECT_FALSE(maskHas(first, tokenizer.eosId()));
  EXPECT_TRUE(maskHas(first, tokenizer.encode("{\"", false).at(0)));
  EXPECT_FALSE(maskHas(first, tokenizer.encode("[", false).at(0)));
  for (int32_t id : tokenizer.encode("{\"ok\": true}", false)) {
    ASSERT_TRUE(maskHas(constraint.allowed(), id)) << tokenizer.tokenBytes(id, false);
    constraint.accept(id);
  }
  EXPECT_TRUE(maskHas(constraint.allowed(), tokenizer.eosId()));
  EXPECT_TRUE(constraint.complete());
  EXPECT_THROW(constraint.accept(tokenizer.encode("x", false).at(0)), std::logic_error);
}

TEST(TokenMask, ToolCallBlockOpensAndCloses) {
  Tokenizer &tokenizer = fixture::graniteTokenizer();
  int32_t open = tokenizer.findAddedToken("<tool_call>"), close = tokenizer.findAddedToken("</tool_call>");
  ASSERT_GE(open, 0);
  ASSERT_GE(close, 0);
  JsonConstraint constraint(compileJsonSchema(Json::parse(R"({"const": 1})")), trie(), tokenizer, open, close);
  EXPECT_TRUE(maskHas(constraint.allowed(), open));
  EXPECT_FALSE(maskHas(constraint.allowed(), tokenizer.eosId()));
  constraint.accept(open);
  constraint.accept(tokenizer.encode("1", false).at(0));
  EXPECT_TRUE(maskHas(constraint.allowed(), close));
  EXPECT_FALSE(maskHas(constraint.allowed(), tokenizer.eosId()));
  constraint.accept(close);
  EXPECT_TRUE(constraint.complete());
  const TokenMask &last = constraint.allowed();
  for (int32_t id = 0; id < tokenizer.size(); ++id) ASSERT_EQ(maskHas(last, id), id == tokenizer.eosId());
}

TEST(TokenMask, RandomRepliesParseAndKeepTheConstraints) {
  auto grammar = compileJsonSchema(Json::parse(R"({"type": "object", "properties": {
      "id": {"type": "integer", "minimum": 10, "maximum": 99}, "word": {"type": "string", "minLength": 1, "maxLength": 3},
      "list": {"type": "array", "items": {"type": "number", "minimum": -1, "maximum": 1}, "minItems": 1, "maxItems": 2},
      "kind": {"enum": ["x", 7, null]}}, "required": ["id", "word", "list", "kind"], "additionalProperties": false})"));
  int complete = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::string text = sampleReply(grammar, seed, 200);
    if (text.empty()) continue;
    ++complete;
    Json value = Json::parse(text);
    EXPECT_GE(value["id"].get<int>(), 10) << text;
    EXPECT_LE(value["id"].get<int>(), 99) << text;
    EXPECT_GE(value["list"].size(), 1u) << text;
    EXPECT_LE(value["list"].size(), 2u) << text;
    for (const Json &x : value["list"]) EXPECT_TRUE(x.get<double>() >= -1 && x.get<double>() <= 1) << text;
  }
  EXPECT_GE(complete, 10);
}

TEST(TokenMask, MasksEqualFeedingEveryTokenToTheMatcher) {
  Tokenizer &tokenizer = fixture::graniteTokenizer();
  auto grammar = compileJsonSchema(Json::parse(R"({"type": "array", "items": {"type": "object", "properties": {
      "s": {"type": "string", "maxLength": 5}, "t": {"type": "string", "minLength": 2}, "n": {"type": "number"}},
      "required": ["s", "t", "n"], "additionalProperties": false}, "maxItems": 3})"));
  JsonConstraint constraint(grammar, trie(), tokenizer);
  JsonMatcher matcher(grammar);
  MatchStack stack = matcher.start();
  std::mt19937_64 random(7);
  for (int step = 0; step < 40 && !constraint.complete(); ++step) {
    const TokenMask &mask = constraint.allowed();
    std::vector<int32_t> allowed;
    for (int32_t id = 0; id < tokenizer.size(); ++id) {
      std::string_view bytes = tokenizer.tokenBytes(id, false);
      bool expected = false;
      if (id == tokenizer.eosId()) {
        expected = matcher.complete(stack);
      } else if (!tokenizer.isUnused(id) && !bytes.empty() && tokenizer.findAddedToken(bytes) != id) {
        MatchStack copy = stack;
        expected = std::all_of(bytes.begin(), bytes.end(), [&](char b) { return matcher.advance(copy, uint8_t(b)); });
      }
      ASSERT_EQ(maskHas(mask, id), expected) << "step " << step << " token " << id << " '" << bytes << "'";
      if (expected) allowed.push_back(id);
    }
    // Prefer short tokens so that the walk crosses strings, keys and numbers.
    int32_t id = allowed[random() % allowed.size()];
    for (int tries = 0; tries < 32 && tokenizer.tokenBytes(id, false).size() > 1; ++tries)
      id = allowed[random() % allowed.size()];
    constraint.accept(id);
    if (id == tokenizer.eosId()) break;
    for (char b : tokenizer.tokenBytes(id, false)) ASSERT_TRUE(matcher.advance(stack, uint8_t(b)));
  }
}
