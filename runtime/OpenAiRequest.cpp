#include "runtime/OpenAiRequest.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace granite::runtime {
namespace {

using Json = nlohmann::ordered_json;

ApiError badValue(const std::string &param, const std::string &message) {
  return ApiError(400, message, "invalid_request_error", param, "invalid_value");
}

ApiError wrongType(const std::string &param, const char *expected) {
  return ApiError(400, "'" + param + "' must be " + expected, "invalid_request_error", param, "invalid_type");
}

ApiError unsupported(const std::string &param, const std::string &what) {
  return ApiError(400, what + " is not supported by this server", "invalid_request_error", param, "unsupported_value");
}

/// The request fields of one endpoint, by what the server does with them.
struct FieldRules {
  std::set<std::string> implemented; ///< read by the parser below
  std::set<std::string> noEffect;    ///< accepted: they change nothing about the output here
  std::set<std::string> refused;     ///< OpenAI defines them, they would change the output, this server lacks them
};

// clang-format off: the field lists read as lists.
const FieldRules kChatFields{
    {"model", "messages", "tools", "tool_choice", "temperature", "top_p", "top_k", "min_p", "max_tokens",
     "max_completion_tokens", "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
     "top_logprobs", "stream", "stream_options", "n", "response_format", "modalities"},
    {"user", "metadata", "store", "parallel_tool_calls", "service_tier", "prompt_cache_key", "safety_identifier",
     "prediction"},
    {"functions", "function_call", "audio", "reasoning_effort", "web_search_options", "verbosity"}};

const FieldRules kCompletionFields{
    {"model", "prompt", "temperature", "top_p", "top_k", "min_p", "max_tokens", "stop", "seed", "presence_penalty",
     "frequency_penalty", "logit_bias", "logprobs", "stream", "stream_options", "n", "echo", "best_of", "suffix"},
    {"user"},
    {}};
// clang-format on

/// The fields of `body` that are present and not null (null means "not set", as with OpenAI).
class Fields {
public:
  Fields(const Json &body, const FieldRules &rules) : body_(body) {
    for (auto it = body.begin(); it != body.end(); ++it) {
      const std::string &key = it.key();
      if (rules.refused.count(key)) {
        if (it->is_null()) continue;
        throw unsupported(key, "'" + key + "'");
      }
      if (!rules.implemented.count(key) && !rules.noEffect.count(key))
        throw ApiError(400, "Unrecognized request argument supplied: " + key, "invalid_request_error", key,
                       "unrecognized_argument");
    }
  }

  const Json *get(const char *key) const {
    auto it = body_.find(key);
    return it == body_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<float> number(const char *key, double low, double high) const {
    const Json *value = get(key);
    if (!value) return std::nullopt;
    if (!value->is_number()) throw wrongType(key, "a number");
    double x = value->get<double>();
    if (!(x >= low && x <= high))
      throw badValue(key, "'" + std::string(key) + "' must be between " + format(low) + " and " + format(high) +
                              ", got " + value->dump());
    return static_cast<float>(x);
  }

  std::optional<int64_t> integer(const char *key, int64_t low, int64_t high) const {
    const Json *value = get(key);
    if (!value) return std::nullopt;
    if (!value->is_number_integer()) throw wrongType(key, "an integer");
    if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(high))
      throw badValue(key, "'" + std::string(key) + "' must be at most " + std::to_string(high));
    int64_t x = value->get<int64_t>();
    if (x < low || x > high)
      throw badValue(key, "'" + std::string(key) + "' must be between " + std::to_string(low) + " and " +
                              std::to_string(high) + ", got " + std::to_string(x));
    return x;
  }

  std::optional<bool> boolean(const char *key) const {
    const Json *value = get(key);
    if (!value) return std::nullopt;
    if (!value->is_boolean()) throw wrongType(key, "a boolean");
    return value->get<bool>();
  }

private:
  static std::string format(double x) {
    std::string text = std::to_string(x);
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
    return text;
  }

  const Json &body_;
};

Json parseBody(const std::string &body) {
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    throw ApiError(400, "the request body is not valid JSON", "invalid_request_error", "", "invalid_json");
  if (!json.is_object())
    throw ApiError(400, "the request body must be a JSON object", "invalid_request_error", "", "invalid_json");
  return json;
}

void readCommon(const Fields &fields, OpenAiRequest &request, int32_t vocabSize) {
  if (const Json *model = fields.get("model"); model && !model->is_string()) throw wrongType("model", "a string");
  request.temperature = fields.number("temperature", 0, 2);
  request.topP = fields.number("top_p", 0, 1);
  request.minP = fields.number("min_p", 0, 1);
  request.presencePenalty = fields.number("presence_penalty", -2, 2);
  request.frequencyPenalty = fields.number("frequency_penalty", -2, 2);
  if (auto topK = fields.integer("top_k", 0, INT32_MAX)) request.topK = static_cast<int32_t>(*topK);
  if (auto seed = fields.integer("seed", INT64_MIN, INT64_MAX)) request.seed = static_cast<uint64_t>(*seed);
  if (auto maxTokens = fields.integer("max_tokens", 1, INT32_MAX)) request.maxTokens = static_cast<int32_t>(*maxTokens);
  if (auto n = fields.integer("n", 1, INT32_MAX); n && *n != 1) throw unsupported("n", "'n' other than 1");
  request.stream = fields.boolean("stream").value_or(false);

  if (const Json *stop = fields.get("stop")) {
    auto addStop = [&](const Json &value) {
      if (!value.is_string()) throw wrongType("stop", "a string or a list of strings");
      if (value.get_ref<const std::string &>().empty()) throw badValue("stop", "'stop' strings must not be empty");
      request.stop.push_back(value.get<std::string>());
    };
    if (stop->is_array()) {
      if (stop->size() > 4) throw badValue("stop", "'stop' holds at most 4 strings");
      for (const Json &value : *stop) addStop(value);
    } else {
      addStop(*stop);
    }
  }

  if (const Json *bias = fields.get("logit_bias")) {
    if (!bias->is_object()) throw wrongType("logit_bias", "an object mapping token ids to numbers");
    for (auto it = bias->begin(); it != bias->end(); ++it) {
      const std::string &key = it.key();
      bool digits = !key.empty() && key.size() <= 9 &&
                    std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || std::stol(key) >= vocabSize)
        throw badValue("logit_bias",
                       "'logit_bias' key '" + key + "' is not a token id below " + std::to_string(vocabSize));
      if (!it->is_number()) throw wrongType("logit_bias", "an object mapping token ids to numbers");
      double value = it->get<double>();
      if (!(value >= -100 && value <= 100))
        throw badValue("logit_bias", "'logit_bias' values must be between -100 and 100");
      request.logitBias.emplace_back(static_cast<int32_t>(std::stol(key)), static_cast<float>(value));
    }
  }

  if (const Json *options = fields.get("stream_options")) {
    if (!request.stream) throw badValue("stream_options", "'stream_options' is only allowed when 'stream' is true");
    if (!options->is_object()) throw wrongType("stream_options", "an object");
    for (auto it = options->begin(); it != options->end(); ++it) {
      if (it.key() == "include_usage" || it.key() == "include_obfuscation") {
        if (!it->is_boolean() && !it->is_null()) throw wrongType("stream_options." + it.key(), "a boolean");
        if (it.key() == "include_usage") request.includeUsage = it->is_boolean() && it->get<bool>();
      } else {
        throw ApiError(400, "Unrecognized request argument supplied: stream_options." + it.key(),
                       "invalid_request_error", "stream_options." + it.key(), "unrecognized_argument");
      }
    }
  }
}

/// Text content: a string or a list of {"type": "text", "text"} parts (kept as given for the template).
void checkContent(const Json &content, const std::string &param) {
  if (content.is_string()) return;
  if (!content.is_array()) throw wrongType(param, "a string or a list of content parts");
  for (size_t j = 0; j < content.size(); ++j) {
    const Json &part = content[j];
    std::string partParam = param + "[" + std::to_string(j) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw wrongType(partParam, "an object with a string 'type'");
    const std::string &type = part["type"].get_ref<const std::string &>();
    if (type != "text") throw unsupported(partParam + ".type", "content part type '" + type + "'");
    if (!part.contains("text") || !part["text"].is_string()) throw wrongType(partParam + ".text", "a string");
  }
}

Json checkToolCalls(const Json &calls, const std::string &param) {
  if (!calls.is_array()) throw wrongType(param, "a list");
  Json checked = Json::array();
  for (size_t j = 0; j < calls.size(); ++j) {
    const Json &call = calls[j];
    std::string callParam = param + "[" + std::to_string(j) + "]";
    if (!call.is_object()) throw wrongType(callParam, "an object");
    if (call.contains("type") && call["type"] != "function")
      throw unsupported(callParam + ".type", "tool call type " + call["type"].dump());
    if (!call.contains("function") || !call["function"].is_object())
      throw wrongType(callParam + ".function", "an object");
    const Json &function = call["function"];
    if (!function.contains("name") || !function["name"].is_string())
      throw wrongType(callParam + ".function.name", "a string");
    if (!function.contains("arguments") || !(function["arguments"].is_string() || function["arguments"].is_object()))
      throw wrongType(callParam + ".function.arguments", "a string holding a JSON object");
    checked.push_back({{"function", {{"name", function["name"]}, {"arguments", function["arguments"]}}}});
  }
  return checked;
}

/// Checks the messages and returns them in the template's shape ("developer" becomes "system").
Json readMessages(const Fields &fields) {
  const Json *messages = fields.get("messages");
  if (!messages) throw ApiError(400, "'messages' is required", "invalid_request_error", "messages", "missing_required");
  if (!messages->is_array()) throw wrongType("messages", "a list of messages");
  if (messages->empty()) throw badValue("messages", "'messages' must not be empty");
  static const std::set<std::string> kMessageFields{"role",    "content",     "name",  "tool_calls",   "tool_call_id",
                                                    "refusal", "annotations", "audio", "function_call"};
  Json rendered = Json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json &message = (*messages)[i];
    std::string param = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) throw wrongType(param, "an object");
    for (auto it = message.begin(); it != message.end(); ++it) {
      if (!kMessageFields.count(it.key()))
        throw ApiError(400, "Unrecognized request argument supplied: " + param + "." + it.key(),
                       "invalid_request_error", param + "." + it.key(), "unrecognized_argument");
    }
    for (const char *key : {"audio", "function_call"})
      if (message.contains(key) && !message[key].is_null())
        throw unsupported(param + "." + key, "'" + std::string(key) + "'");
    if (!message.contains("role") || !message["role"].is_string()) throw wrongType(param + ".role", "a string");
    std::string role = message["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool")
      throw badValue(param + ".role", "unknown role '" + role + "' (system, developer, user, assistant, tool)");
    if (message.contains("name") && !message["name"].is_string()) throw wrongType(param + ".name", "a string");

    Json out{{"role", role}};
    const Json content = message.contains("content") ? message["content"] : Json();
    bool hasCalls = message.contains("tool_calls") && !message["tool_calls"].is_null();
    if (content.is_null()) {
      if (role != "assistant" || !hasCalls)
        throw ApiError(400, "'" + param + ".content' is required", "invalid_request_error", param + ".content",
                       "missing_required");
      out["content"] = "";
    } else {
      checkContent(content, param + ".content");
      out["content"] = content;
    }
    if (hasCalls) {
      if (role != "assistant") throw badValue(param + ".tool_calls", "only assistant messages have 'tool_calls'");
      out["tool_calls"] = checkToolCalls(message["tool_calls"], param + ".tool_calls");
    }
    if (role == "tool" && (!message.contains("tool_call_id") || !message["tool_call_id"].is_string()))
      throw ApiError(400, "'" + param + ".tool_call_id' is required in tool messages", "invalid_request_error",
                     param + ".tool_call_id", "missing_required");
    rendered.push_back(std::move(out));
  }
  return rendered;
}

bool validFunctionName(const std::string &name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

void readTools(const Fields &fields, OpenAiRequest &request) {
  if (const Json *tools = fields.get("tools")) {
    if (!tools->is_array()) throw wrongType("tools", "a list of tools");
    if (tools->empty()) throw badValue("tools", "'tools' must not be an empty list (leave it out instead)");
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json &tool = (*tools)[i];
      std::string param = "tools[" + std::to_string(i) + "]";
      if (!tool.is_object()) throw wrongType(param, "an object");
      if (!tool.contains("type") || tool["type"] != "function")
        throw unsupported(param + ".type", "tool type " + (tool.contains("type") ? tool["type"].dump() : "(none)"));
      if (!tool.contains("function") || !tool["function"].is_object())
        throw wrongType(param + ".function", "an object");
      const Json &function = tool["function"];
      if (!function.contains("name") || !function["name"].is_string() ||
          !validFunctionName(function["name"].get<std::string>()))
        throw badValue(param + ".function.name",
                       "'" + param + ".function.name' must be 1 to 64 letters, digits, '_' or '-'");
      if (function.contains("parameters") && !function["parameters"].is_object())
        throw wrongType(param + ".function.parameters", "a JSON Schema object");
    }
    request.tools = *tools;
  }

  const Json *choice = fields.get("tool_choice");
  if (!choice) return;
  bool hasTools = !request.tools.is_null();
  if (choice->is_string()) {
    const std::string &mode = choice->get_ref<const std::string &>();
    if (mode == "none")
      request.toolChoice.mode = ToolChoice::Mode::None;
    else if (mode == "auto")
      request.toolChoice.mode = ToolChoice::Mode::Auto;
    else if (mode == "required")
      request.toolChoice.mode = ToolChoice::Mode::Required;
    else
      throw badValue("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or a named function");
  } else if (choice->is_object() && choice->contains("function") && (*choice)["function"].is_object() &&
             (*choice)["function"].contains("name") && (*choice)["function"]["name"].is_string()) {
    if (choice->contains("type") && (*choice)["type"] != "function")
      throw unsupported("tool_choice.type", "tool_choice type " + (*choice)["type"].dump());
    request.toolChoice.mode = ToolChoice::Mode::Function;
    request.toolChoice.functionName = (*choice)["function"]["name"].get<std::string>();
    bool known = hasTools && std::any_of(request.tools.begin(), request.tools.end(), [&](const Json &tool) {
                   return tool["function"]["name"] == request.toolChoice.functionName;
                 });
    if (!known)
      throw badValue("tool_choice",
                     "'tool_choice' names function '" + request.toolChoice.functionName + "', which is not in 'tools'");
  } else {
    throw wrongType("tool_choice", "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": "
                                   "{\"name\": ...}}");
  }
  if (request.toolChoice.mode == ToolChoice::Mode::Required && !hasTools)
    throw badValue("tool_choice", "'tool_choice' \"required\" needs 'tools'");
}

std::shared_ptr<const JsonGrammar> compileSchema(const Json &schema, const std::string &param) {
  try {
    return compileJsonSchema(schema);
  } catch (const SchemaError &e) {
    throw badValue(param, "'" + param + "': " + e.what());
  }
}

void readResponseFormat(const Fields &fields, OpenAiRequest &request) {
  const Json *format = fields.get("response_format");
  if (!format) return;
  if (!format->is_object() || !format->contains("type") || !(*format)["type"].is_string())
    throw wrongType("response_format", "an object with a string 'type'");
  const std::string &type = (*format)["type"].get_ref<const std::string &>();
  if (type == "json_object") {
    request.grammar = anyJsonObjectGrammar();
  } else if (type == "json_schema") {
    if (!format->contains("json_schema") || !(*format)["json_schema"].is_object())
      throw wrongType("response_format.json_schema", "an object with 'name' and 'schema'");
    const Json &spec = (*format)["json_schema"];
    if (!spec.contains("name") || !spec["name"].is_string()) // required by OpenAI too
      throw wrongType("response_format.json_schema.name", "a string");
    if (spec.contains("strict") && !spec["strict"].is_boolean() && !spec["strict"].is_null())
      throw wrongType("response_format.json_schema.strict", "a boolean");
    // strict or not, the reply follows the schema: nothing is gained by following it less.
    request.grammar =
        compileSchema(spec.contains("schema") ? spec["schema"] : Json::object(), "response_format.json_schema.schema");
  } else if (type != "text") {
    throw unsupported("response_format.type", "response_format type '" + type + "'");
  }
}

/// tool_choice "required" or a named function: the reply is one `<tool_call>` block of a call to that function, or
/// for "required" to one of the tools, with arguments valid against its parameters (tools told apart by "name").
/// Several tools whose parameters use $defs (which would share the root) get arguments that are any JSON object.
void readToolCallGrammar(OpenAiRequest &request) {
  const ToolChoice::Mode mode = request.toolChoice.mode;
  if (mode != ToolChoice::Mode::Required && mode != ToolChoice::Mode::Function) return;
  if (request.grammar)
    throw unsupported("response_format", "'response_format' json_object or json_schema with tool_choice \"" +
                                             std::string(mode == ToolChoice::Mode::Required ? "required" : "function") +
                                             "\"");
  std::vector<size_t> callable;
  for (size_t i = 0; i < request.tools.size(); ++i)
    if (mode == ToolChoice::Mode::Required || request.tools[i]["function"]["name"] == request.toolChoice.functionName)
      callable.push_back(i);
  bool sharedDefs = false;
  for (size_t i : callable) {
    const Json &function = request.tools[i]["function"];
    if (!function.contains("parameters")) continue;
    // Each tool's parameters alone first, so that errors give paths inside them.
    compileSchema(function["parameters"], "tools[" + std::to_string(i) + "].function.parameters");
    sharedDefs |= callable.size() > 1 &&
                  (function["parameters"].contains("$defs") || function["parameters"].contains("definitions"));
  }
  Json calls = Json::array();
  Json root = Json::object();
  for (size_t i : callable) {
    const Json &function = request.tools[i]["function"];
    Json arguments = function.contains("parameters") && !sharedDefs ? function["parameters"] : Json{{"type", "object"}};
    for (const char *defs : {"$defs", "definitions"})
      if (arguments.contains(defs)) root[defs] = arguments[defs];
    calls.push_back({{"type", "object"},
                     {"properties", {{"name", {{"const", function["name"]}}}, {"arguments", arguments}}},
                     {"required", {"name", "arguments"}},
                     {"additionalProperties", false}});
  }
  if (calls.size() == 1)
    root.update(calls[0]);
  else
    root["anyOf"] = calls;
  request.grammar = compileSchema(root, callable.size() == 1 ? "tools[" + std::to_string(callable[0]) + "]" : "tools");
  request.toolCallGrammar = true;
}

/// The completions prompt: a string, a list of one string, a list of token ids, or a list of one such list.
void readPrompt(const Fields &fields, OpenAiRequest &request, int32_t vocabSize) {
  const Json *prompt = fields.get("prompt");
  if (!prompt) throw ApiError(400, "'prompt' is required", "invalid_request_error", "prompt", "missing_required");
  const Json *single = prompt;
  if (prompt->is_array() && !prompt->empty() && (prompt->front().is_string() || prompt->front().is_array())) {
    if (prompt->size() != 1) throw unsupported("prompt", "more than one prompt per request");
    single = &prompt->front();
  }
  if (single->is_string()) {
    request.prompt = single->get<std::string>();
    if (request.prompt.empty()) throw badValue("prompt", "'prompt' must not be empty");
    return;
  }
  if (!single->is_array()) throw wrongType("prompt", "a string or a list of token ids");
  if (single->empty()) throw badValue("prompt", "'prompt' must not be empty");
  std::vector<int32_t> ids;
  for (const Json &id : *single) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocabSize)
      throw badValue("prompt", "'prompt' token ids must be integers from 0 to " + std::to_string(vocabSize - 1));
    ids.push_back(id.get<int32_t>());
  }
  request.promptIds = std::move(ids);
}

} // namespace

Json ApiError::toJson() const {
  return Json{{"error",
               {{"message", what()},
                {"type", type},
                {"param", param.empty() ? Json() : Json(param)},
                {"code", code.empty() ? Json() : Json(code)}}}};
}

Json OpenAiRequest::renderedTools() const {
  if (tools.is_null() || toolChoice.mode == ToolChoice::Mode::None) return Json();
  if (toolChoice.mode != ToolChoice::Mode::Function) return tools;
  Json named = Json::array();
  for (const Json &tool : tools)
    if (tool["function"]["name"] == toolChoice.functionName) named.push_back(tool);
  return named;
}

bool OpenAiRequest::parsesToolCalls() const { return !tools.is_null() && toolChoice.mode != ToolChoice::Mode::None; }

OpenAiRequest parseChatRequest(const std::string &body, int32_t vocabSize) {
  Json json = parseBody(body);
  Fields fields(json, kChatFields);
  OpenAiRequest request;
  request.chat = true;
  readCommon(fields, request, vocabSize);
  request.messages = readMessages(fields);
  readTools(fields, request);
  if (auto maxTokens = fields.integer("max_completion_tokens", 1, INT32_MAX))
    request.maxTokens = static_cast<int32_t>(*maxTokens);
  request.logprobs = fields.boolean("logprobs").value_or(false);
  if (auto top = fields.integer("top_logprobs", 0, 20)) {
    if (!request.logprobs) throw badValue("top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
    request.topLogprobs = static_cast<int32_t>(*top);
  }
  readResponseFormat(fields, request);
  readToolCallGrammar(request);
  if (const Json *modalities = fields.get("modalities"))
    if (*modalities != Json::array({"text"})) throw unsupported("modalities", "'modalities' other than [\"text\"]");
  return request;
}

OpenAiRequest parseCompletionRequest(const std::string &body, int32_t vocabSize) {
  Json json = parseBody(body);
  Fields fields(json, kCompletionFields);
  OpenAiRequest request;
  request.chat = false;
  readCommon(fields, request, vocabSize);
  readPrompt(fields, request, vocabSize);
  if (auto logprobs = fields.integer("logprobs", 0, 5)) {
    request.logprobs = true;
    request.topLogprobs = static_cast<int32_t>(*logprobs);
  }
  if (fields.boolean("echo").value_or(false)) throw unsupported("echo", "'echo'");
  if (auto bestOf = fields.integer("best_of", 1, INT32_MAX); bestOf && *bestOf != 1)
    throw unsupported("best_of", "'best_of' other than 1");
  if (const Json *suffix = fields.get("suffix")) {
    if (!suffix->is_string()) throw wrongType("suffix", "a string");
    if (!suffix->get_ref<const std::string &>().empty()) throw unsupported("suffix", "'suffix'");
  }
  return request;
}

SamplingParams samplingFor(const OpenAiRequest &request, const SamplingParams &defaults, uint64_t seed) {
  SamplingParams params = defaults;
  if (request.temperature) params.temperature = *request.temperature;
  if (request.topP) params.topP = *request.topP;
  if (request.minP) params.minP = *request.minP;
  if (request.topK) params.topK = *request.topK;
  if (request.presencePenalty) params.presencePenalty = *request.presencePenalty;
  if (request.frequencyPenalty) params.frequencyPenalty = *request.frequencyPenalty;
  params.logitBias = request.logitBias;
  params.seed = request.seed.value_or(seed);
  return params;
}

} // namespace granite::runtime
