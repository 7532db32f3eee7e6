#include "runtime/JsonSchema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

namespace granite::runtime {
namespace {

using Json = nlohmann::ordered_json;
using Kind = GrammarNode::Kind;

/// Numbers beyond this have more digits than a generated number may (runtime/JsonGrammar.cpp kMaxDigits).
constexpr double kLargestBound = 1e15;

const std::set<std::string> kAnnotations{"title", "description", "default",  "examples",  "$comment", "$schema",
                                         "$id",   "deprecated",  "readOnly", "writeOnly", "$defs",    "definitions"};
const std::set<std::string> kObjectKeywords{"properties", "required", "additionalProperties"};
const std::set<std::string> kArrayKeywords{"items", "minItems", "maxItems"};
const std::set<std::string> kStringKeywords{"minLength", "maxLength"};
const std::set<std::string> kNumberKeywords{"minimum", "maximum"};

std::string at(const std::string &path) { return " (at " + (path.empty() ? std::string("the root") : path) + ")"; }

class Compiler {
public:
  explicit Compiler(const Json &root) : root_(root) {
    GrammarNode anyObject;
    anyObject.kind = Kind::Object;
    anyObject.freeKeys = true;
    GrammarNode anyArray;
    anyArray.kind = Kind::Array;
    GrammarNode anyString;
    anyString.kind = Kind::String;
    GrammarNode anyNumber;
    anyNumber.kind = Kind::Number;
    grammar_.anyValue = add(GrammarNode{});
    grammar_.anyString = add(anyString);
    std::vector<int32_t> alternatives{add(anyObject), add(anyArray), grammar_.anyString, add(anyNumber),
                                      literals({"true", "false", "null"})};
    grammar_.nodes[alternatives[1]].items = grammar_.anyValue;
    GrammarNode any = unionOf(alternatives, "");
    grammar_.nodes[grammar_.anyValue] = any;
    anyObject_ = alternatives[0];
  }

  std::shared_ptr<const JsonGrammar> compileRoot() {
    grammar_.root = compile(root_, "");
    requireFiniteValues();
    return std::make_shared<JsonGrammar>(std::move(grammar_));
  }

  std::shared_ptr<const JsonGrammar> anyObject() {
    grammar_.root = anyObject_;
    return std::make_shared<JsonGrammar>(std::move(grammar_));
  }

private:
  int32_t add(GrammarNode node) {
    grammar_.nodes.push_back(std::move(node));
    return static_cast<int32_t>(grammar_.nodes.size() - 1);
  }

  int32_t literals(std::vector<std::string> texts, std::vector<int32_t> tags = {}) {
    if (tags.empty()) tags.assign(texts.size(), 0);
    std::vector<size_t> order(texts.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return texts[a] < texts[b]; });
    LiteralSet set;
    for (size_t i : order) {
      if (!set.texts.empty() && set.texts.back() == texts[i]) continue;
      set.texts.push_back(texts[i]);
      set.tags.push_back(tags[i]);
    }
    grammar_.literalSets.push_back(std::move(set));
    GrammarNode node;
    node.kind = Kind::Literals;
    node.literalSet = static_cast<int32_t>(grammar_.literalSets.size() - 1);
    return add(std::move(node));
  }

  /// The bytes a value of `node` may start with.
  std::set<uint8_t> firstBytes(int32_t index, const std::string &path) {
    if (pending_.count(index))
      throw SchemaError("a $ref that refers to itself inside anyOf/oneOf is not supported" + at(path));
    const GrammarNode &node = grammar_.nodes[index];
    switch (node.kind) {
    case Kind::Object: return {'{'};
    case Kind::Array: return {'['};
    case Kind::String: return {'"'};
    case Kind::Number: return {'-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'};
    case Kind::Literals: {
      std::set<uint8_t> bytes;
      for (const std::string &text : grammar_.literalSets[node.literalSet].texts) bytes.insert(uint8_t(text[0]));
      return bytes;
    }
    case Kind::Union: {
      std::set<uint8_t> bytes;
      for (int b = 0; b < 256; ++b)
        if (node.byFirstByte[b] >= 0) bytes.insert(uint8_t(b));
      return bytes;
    }
    }
    return {};
  }

  /// A union whose alternatives start with different bytes, so that the first byte picks one.
  /// Objects whose first property is required, has the same name in each, and takes const or enum values that
  /// differ between them (a tagged union, such as tool calls by "name") become one object that the tag's value
  /// switches to the matching alternative. -1 when `objects` are not such.
  int32_t taggedObjects(const std::vector<int32_t> &objects) {
    std::vector<std::string> texts;
    std::vector<int32_t> tags;
    for (size_t i = 0; i < objects.size(); ++i) {
      const GrammarNode &object = grammar_.nodes[objects[i]];
      if (object.freeKeys || object.properties.empty() || !object.properties[0].required) return -1;
      const GrammarNode::Property &tag = object.properties[0];
      if (tag.name != grammar_.nodes[objects[0]].properties[0].name) return -1;
      const GrammarNode &values = grammar_.nodes[tag.node];
      if (values.kind != Kind::Literals) return -1;
      for (const std::string &text : grammar_.literalSets[values.literalSet].texts) {
        if (std::find(texts.begin(), texts.end(), text) != texts.end()) return -1;
        texts.push_back(text);
        tags.push_back(static_cast<int32_t>(i));
      }
    }
    GrammarNode tagged;
    tagged.kind = Kind::Object;
    tagged.properties = {{grammar_.nodes[objects[0]].properties[0].name, literals(texts, tags), true}};
    tagged.keySets = {literals({Json(tagged.properties[0].name).dump()}, {0}), -1};
    tagged.variants = objects;
    return add(std::move(tagged));
  }

  GrammarNode unionOf(std::vector<int32_t> alternatives, const std::string &path) {
    std::vector<int32_t> objects;
    for (int32_t alternative : alternatives)
      if (grammar_.nodes[alternative].kind == Kind::Object) objects.push_back(alternative);
    if (objects.size() > 1)
      if (int32_t tagged = taggedObjects(objects); tagged >= 0) {
        alternatives.erase(std::remove_if(alternatives.begin(), alternatives.end(),
                                          [&](int32_t a) { return grammar_.nodes[a].kind == Kind::Object; }),
                           alternatives.end());
        alternatives.push_back(tagged);
      }
    GrammarNode node;
    node.kind = Kind::Union;
    node.byFirstByte.assign(256, -1);
    for (int32_t alternative : alternatives) {
      const GrammarNode &alt = grammar_.nodes[alternative];
      for (uint8_t b : firstBytes(alternative, path)) {
        int32_t leaf = alt.kind == Kind::Union ? alt.byFirstByte[b] : alternative;
        if (node.byFirstByte[b] >= 0 && node.byFirstByte[b] != leaf)
          throw SchemaError(std::string("anyOf/oneOf/type alternatives that can start with the same character '") +
                            char(b) +
                            "' are not supported (alternatives must differ in type or first character, or "
                            "be objects told apart by the const value of their first, required property)" +
                            at(path));
        node.byFirstByte[b] = leaf;
      }
    }
    return node;
  }

  int32_t compile(const Json &schema, const std::string &path) {
    if (schema.is_boolean()) {
      if (schema.get<bool>()) return grammar_.anyValue;
      throw SchemaError("the schema false admits no value" + at(path));
    }
    if (!schema.is_object()) throw SchemaError("a schema must be an object or a boolean" + at(path));
    std::vector<std::string> keywords;
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      const std::string &key = it.key();
      if (kAnnotations.count(key)) continue;
      static const std::set<std::string> kOthers{"type", "enum", "const", "anyOf", "oneOf", "$ref"};
      if (!kOthers.count(key) && !kObjectKeywords.count(key) && !kArrayKeywords.count(key) &&
          !kStringKeywords.count(key) && !kNumberKeywords.count(key))
        throw SchemaError("unsupported JSON Schema keyword '" + key + "'" + at(path));
      keywords.push_back(key);
    }
    auto alone = [&](const char *keyword, const std::set<std::string> &allowed) {
      for (const std::string &key : keywords)
        if (key != keyword && !allowed.count(key))
          throw SchemaError(std::string("'") + keyword + "' together with '" + key + "' is not supported" + at(path));
    };

    if (schema.contains("$ref")) {
      alone("$ref", {});
      return ref(schema["$ref"], path);
    }
    for (const char *keyword : {"anyOf", "oneOf"})
      if (schema.contains(keyword)) {
        alone(keyword, {});
        const Json &list = schema[keyword];
        if (!list.is_array() || list.empty())
          throw SchemaError(std::string("'") + keyword + "' must be a non-empty list of schemas" + at(path));
        std::vector<int32_t> alternatives;
        for (size_t i = 0; i < list.size(); ++i)
          alternatives.push_back(compile(list[i], path + "/" + keyword + "/" + std::to_string(i)));
        return add(unionOf(alternatives, path));
      }

    std::vector<std::string> types;
    if (schema.contains("type")) {
      const Json &type = schema["type"];
      if (type.is_string())
        types.push_back(type.get<std::string>());
      else if (type.is_array() && !type.empty() &&
               std::all_of(type.begin(), type.end(), [](const Json &t) { return t.is_string(); }))
        for (const Json &t : type) types.push_back(t.get<std::string>());
      else
        throw SchemaError("'type' must be a type name or a non-empty list of them" + at(path));
      static const std::set<std::string> kTypes{"object", "array", "string", "number", "integer", "boolean", "null"};
      for (const std::string &t : types)
        if (!kTypes.count(t)) throw SchemaError("unknown type '" + t + "'" + at(path));
      if (std::count(types.begin(), types.end(), "number"))
        types.erase(std::remove(types.begin(), types.end(), "integer"), types.end());
    }

    if (schema.contains("enum") || schema.contains("const")) {
      if (schema.contains("enum") && schema.contains("const"))
        throw SchemaError("'enum' together with 'const' is not supported" + at(path));
      const char *keyword = schema.contains("enum") ? "enum" : "const";
      alone(keyword, {"type"});
      Json values = schema.contains("const") ? Json::array({schema["const"]}) : schema["enum"];
      if (!values.is_array()) throw SchemaError("'enum' must be a list" + at(path));
      std::vector<std::string> texts;
      for (const Json &value : values)
        if (types.empty() ||
            std::any_of(types.begin(), types.end(), [&](const std::string &t) { return hasType(value, t); }))
          texts.push_back(value.dump());
      if (texts.empty())
        throw SchemaError(std::string("no value satisfies the schema: '") + keyword + "' holds no value" +
                          (types.empty() ? "" : " of its 'type'") + at(path));
      return literals(std::move(texts));
    }

    if (types.empty()) {
      for (const std::string &key : keywords) {
        if (kObjectKeywords.count(key))
          types = {"object"};
        else if (kArrayKeywords.count(key))
          types = {"array"};
        else if (kStringKeywords.count(key))
          types = {"string"};
        else if (kNumberKeywords.count(key))
          types = {"number"};
        else
          continue;
        break;
      }
      if (types.empty()) return grammar_.anyValue;
    }
    for (const std::string &key : keywords) {
      if (key == "type") continue;
      bool applies = std::any_of(types.begin(), types.end(), [&](const std::string &t) {
        return (t == "object" && kObjectKeywords.count(key)) || (t == "array" && kArrayKeywords.count(key)) ||
               (t == "string" && kStringKeywords.count(key)) ||
               ((t == "number" || t == "integer") && kNumberKeywords.count(key));
      });
      if (!applies) throw SchemaError("'" + key + "' does not apply to the schema's type" + at(path));
    }
    std::vector<int32_t> alternatives;
    for (const std::string &type : types) alternatives.push_back(compileTyped(schema, type, path));
    return alternatives.size() == 1 ? alternatives[0] : add(unionOf(alternatives, path));
  }

  static bool hasType(const Json &value, const std::string &type) {
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "string") return value.is_string();
    if (type == "number") return value.is_number();
    if (type == "integer")
      return value.is_number_integer() ||
             (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>());
    if (type == "boolean") return value.is_boolean();
    return value.is_null();
  }

  static int64_t count(const Json &schema, const char *keyword, int64_t fallback, const std::string &path) {
    if (!schema.contains(keyword)) return fallback;
    const Json &value = schema[keyword];
    if (!value.is_number_integer() || value.get<int64_t>() < 0)
      throw SchemaError(std::string("'") + keyword + "' must be a non-negative integer" + at(path));
    return value.get<int64_t>();
  }

  int32_t compileTyped(const Json &schema, const std::string &type, const std::string &path) {
    GrammarNode node;
    if (type == "boolean") return literals({"false", "true"});
    if (type == "null") return literals({"null"});
    if (type == "string") {
      node.kind = Kind::String;
      node.minLength = count(schema, "minLength", 0, path);
      node.maxLength = count(schema, "maxLength", -1, path);
      if (node.maxLength >= 0 && node.minLength > node.maxLength)
        throw SchemaError("no value satisfies the schema: minLength > maxLength" + at(path));
      return add(node);
    }
    if (type == "number" || type == "integer") {
      node.kind = Kind::Number;
      node.integer = type == "integer";
      node.minimum = -INFINITY;
      node.maximum = INFINITY;
      for (const char *keyword : {"minimum", "maximum"}) {
        if (!schema.contains(keyword)) continue;
        if (!schema[keyword].is_number())
          throw SchemaError(std::string("'") + keyword + "' must be a number" + at(path));
        double bound = schema[keyword].get<double>();
        if (std::fabs(bound) > kLargestBound)
          throw SchemaError(std::string("'") + keyword + "' beyond ±1e15 is not supported" + at(path));
        (std::string(keyword) == "minimum" ? node.minimum : node.maximum) = bound;
        node.bounded = true;
      }
      // Integers in range, and (for numbers) fractions between two of them: the range must hold an integer.
      if (node.bounded && std::ceil(node.minimum) > std::floor(node.maximum))
        throw SchemaError(node.minimum > node.maximum ? "no value satisfies the schema: minimum > maximum" + at(path)
                                                      : "a range that holds no integer is not supported" + at(path));
      return add(node);
    }
    if (type == "array") {
      node.kind = Kind::Array;
      node.minItems = count(schema, "minItems", 0, path);
      node.maxItems = count(schema, "maxItems", -1, path);
      if (node.maxItems >= 0 && node.minItems > node.maxItems)
        throw SchemaError("no value satisfies the schema: minItems > maxItems" + at(path));
      node.items = grammar_.anyValue;
      if (schema.contains("items")) {
        if (schema["items"] == Json(false)) {
          if (node.minItems > 0)
            throw SchemaError("no value satisfies the schema: items false with minItems" + at(path));
          node.maxItems = 0;
        } else if (node.maxItems != 0) {
          node.items = compile(schema["items"], path + "/items");
        }
      }
      return add(node);
    }
    // object
    node.kind = Kind::Object;
    bool closed = false;
    if (schema.contains("additionalProperties")) {
      const Json &additional = schema["additionalProperties"];
      if (!additional.is_boolean() && additional != Json::object())
        throw SchemaError("'additionalProperties' other than true or false is not supported" + at(path));
      closed = additional == Json(false);
    }
    std::set<std::string> required;
    if (schema.contains("required")) {
      const Json &list = schema["required"];
      if (!list.is_array()) throw SchemaError("'required' must be a list of property names" + at(path));
      for (const Json &name : list) {
        if (!name.is_string()) throw SchemaError("'required' must be a list of property names" + at(path));
        required.insert(name.get<std::string>());
      }
    }
    if (!schema.contains("properties") && !closed && required.empty()) return anyObject_;
    if (schema.contains("properties") && !schema["properties"].is_object())
      throw SchemaError("'properties' must be an object" + at(path));
    const Json properties = schema.value("properties", Json::object());
    for (const std::string &name : required)
      if (!properties.contains(name))
        throw SchemaError("required property '" + name + "' is not in 'properties', which is not supported" + at(path));
    for (auto it = properties.begin(); it != properties.end(); ++it) {
      GrammarNode::Property property{it.key(), -1, required.count(it.key()) > 0};
      node.properties.push_back(property);
    }
    // The children after the properties list is final: compile() may add nodes, so index, not reference.
    const int32_t index = add(node);
    size_t i = 0;
    for (auto it = properties.begin(); it != properties.end(); ++it, ++i) {
      int32_t child = compile(it.value(), path + "/properties/" + it.key());
      grammar_.nodes[index].properties[i].node = child;
    }
    const size_t n = grammar_.nodes[index].properties.size();
    for (size_t from = 0; from <= n; ++from) {
      std::vector<std::string> keys;
      std::vector<int32_t> tags;
      for (size_t j = from; j < n; ++j) {
        const GrammarNode::Property &property = grammar_.nodes[index].properties[j];
        keys.push_back(Json(property.name).dump());
        tags.push_back(static_cast<int32_t>(j));
        if (property.required) break;
      }
      int32_t keySet = keys.empty() ? -1 : literals(keys, tags);
      grammar_.nodes[index].keySets.push_back(keySet);
    }
    return index;
  }

  /// Every node must have a finite value, or a reply that enters it could never end (e.g. a $ref cycle through
  /// required properties or minItems). A fixpoint: a node is finite once what it needs is.
  void requireFiniteValues() const {
    const std::vector<GrammarNode> &nodes = grammar_.nodes;
    std::vector<bool> finite(nodes.size(), false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (finite[i]) continue;
        const GrammarNode &node = nodes[i];
        bool now = true;
        if (node.kind == Kind::Array) {
          now = node.minItems == 0 || finite[node.items];
        } else if (node.kind == Kind::Object) {
          for (const GrammarNode::Property &property : node.properties)
            if (property.required && !finite[property.node]) now = false;
        } else if (node.kind == Kind::Union) {
          now = std::any_of(node.byFirstByte.begin(), node.byFirstByte.end(),
                            [&](int32_t alternative) { return alternative >= 0 && finite[alternative]; });
        }
        if (now) finite[i] = changed = true;
      }
    }
    if (std::find(finite.begin(), finite.end(), false) != finite.end())
      throw SchemaError("no finite value satisfies the schema: a $ref cycle through required properties or "
                        "minItems never ends");
  }

  int32_t ref(const Json &value, const std::string &path) {
    if (!value.is_string()) throw SchemaError("'$ref' must be a string" + at(path));
    const std::string &target = value.get_ref<const std::string &>();
    if (auto found = refs_.find(target); found != refs_.end()) return found->second;
    const Json *definition = nullptr;
    for (const char *prefix : {"#/$defs/", "#/definitions/"}) {
      std::string p(prefix);
      if (target.compare(0, p.size(), p) != 0) continue;
      std::string name = target.substr(p.size());
      const std::string section = p.substr(2, p.size() - 3);
      if (root_.is_object() && root_.contains(section) && root_[section].is_object() && root_[section].contains(name))
        definition = &root_[section][name];
    }
    if (!definition) throw SchemaError("'$ref' \"" + target + "\" is not a local #/$defs/NAME that exists" + at(path));
    // Reserved first, so that a recursive reference finds it.
    const int32_t index = add(GrammarNode{});
    refs_[target] = index;
    pending_.insert(index);
    int32_t compiled = compile(*definition, target.substr(1));
    pending_.erase(index);
    if (compiled == index) throw SchemaError("'$ref' \"" + target + "\" refers only to itself" + at(path));
    GrammarNode copy = grammar_.nodes[compiled];
    grammar_.nodes[index] = std::move(copy);
    return index;
  }

  const Json &root_;
  JsonGrammar grammar_;
  int32_t anyObject_ = -1;
  std::map<std::string, int32_t> refs_;
  std::set<int32_t> pending_; ///< $ref nodes being compiled
};

} // namespace

std::shared_ptr<const JsonGrammar> compileJsonSchema(const nlohmann::ordered_json &schema) {
  return Compiler(schema).compileRoot();
}

std::shared_ptr<const JsonGrammar> anyJsonObjectGrammar() {
  static const Json kEmpty = Json::object();
  return Compiler(kEmpty).anyObject();
}

} // namespace granite::runtime
