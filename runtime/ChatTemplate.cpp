#include "runtime/ChatTemplate.h"

#include "runtime/TemplateJson.h"

namespace granite::runtime {

const char *const kGraniteDefaultSystemPrompt =
    "You are a helpful assistant. Please ensure responses are professional, accurate, and safe.";

namespace {

using Json = nlohmann::ordered_json;

const char *const kToolsPrefix =
    "You are a helpful assistant with access to the following tools. You may call one or more tools to assist with "
    "the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>";
const char *const kToolsSuffix =
    "\n</tools>\n\nFor each tool call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\n</tool_call>. If a tool does not exist in the provided list of tools, notify the user that "
    "you do not have the ability to fulfill the request.";
const char *const kDocumentsPrefix =
    "You are a helpful assistant with access to the following documents. You may use one or more documents to "
    "assist with the user query.\n\nYou are given a list of documents within <documents></documents> XML tags:\n"
    "<documents>";
const char *const kDocumentsSuffix =
    "\n</documents>\n\nWrite the response to the user's input by strictly aligning with the facts in the provided "
    "documents. If the information needed to answer the question is not available in the documents, inform the "
    "user that the question cannot be answered based on the available data.";

std::string where(size_t index) { return "message " + std::to_string(index); }

/// A string content as is; a list content joins its text parts with "\n"; null or absent is empty.
std::string contentText(const Json &message, size_t index) {
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) throw ChatTemplateError(where(index) + " has content that is neither a string nor a list");
  std::string text;
  for (const Json &part : *it) {
    if (!part.is_object() || part.value("type", Json()) != "text") continue; // any JSON type may stand in "type"
    auto partText = part.find("text");
    if (partText == part.end() || !partText->is_string())
      throw ChatTemplateError(where(index) + " has a text part without a string \"text\"");
    if (!text.empty()) text += '\n';
    text += partText->get<std::string>();
  }
  return text;
}

/// Accumulates the rendered text and remembers which parts came from the caller's data.
class ChatWriter {
public:
  void markup(std::string_view text) { chat_.text += text; }
  void literal(std::string_view text) {
    if (text.empty()) return;
    chat_.literalSpans.push_back({chat_.text.size(), text.size()});
    chat_.text += text;
  }
  RenderedChat take() { return std::move(chat_); }

private:
  RenderedChat chat_;
};

bool hasItems(const Json &items, const char *what) {
  if (items.is_null()) return false;
  if (!items.is_array()) throw ChatTemplateError(std::string(what) + " must be a JSON array");
  return !items.empty();
}

/// The tools or documents block: prefix, "\n" + tojson per item, suffix.
void writeListBlock(ChatWriter &out, const Json &items, const char *prefix, const char *suffix) {
  out.markup(prefix);
  for (const Json &item : items) {
    out.markup("\n");
    out.literal(toTemplateJson(item));
  }
  out.markup(suffix);
}

void writeToolCall(ChatWriter &out, const Json &call, size_t index) {
  const Json &function = call.is_object() && call.contains("function") ? call["function"] : call;
  if (!function.is_object() || !function.contains("name") || !function["name"].is_string())
    throw ChatTemplateError(where(index) + " has a tool call without a string \"name\"");
  if (!function.contains("arguments")) throw ChatTemplateError(where(index) + " has a tool call without \"arguments\"");
  const Json &arguments = function["arguments"];
  out.markup("<tool_call>\n{\"name\": \"");
  out.literal(function["name"].get<std::string>());
  out.markup("\", \"arguments\": ");
  out.literal(arguments.is_string() ? arguments.get<std::string>() : toTemplateJson(arguments));
  out.markup("}\n</tool_call>");
}

std::string role(const Json &message, size_t index) {
  if (!message.is_object() || !message.contains("role") || !message["role"].is_string())
    throw ChatTemplateError(where(index) + " has no string \"role\"");
  return message["role"].get<std::string>();
}

/// The one system turn: the first system message's text, the tools block and the documents block, joined by
/// "\n\n" (the template joins after a first system message even when its text is empty), or the default prompt.
void writeSystemTurn(ChatWriter &out, const Json &messages, const Json &tools, const Json &documents) {
  const bool leadingSystem = !messages.empty() && role(messages[0], 0) == "system";
  const std::string system = leadingSystem ? contentText(messages[0], 0) : "";
  const bool withTools = hasItems(tools, "tools"), withDocuments = hasItems(documents, "documents");
  out.markup("<|start_of_role|>system<|end_of_role|>");
  if (system.empty() && !withTools && !withDocuments) {
    out.markup(kGraniteDefaultSystemPrompt);
  } else {
    out.literal(system);
    bool separate = leadingSystem;
    if (withTools) {
      if (separate) out.markup("\n\n");
      writeListBlock(out, tools, kToolsPrefix, kToolsSuffix);
      separate = true;
    }
    if (withDocuments) {
      if (separate) out.markup("\n\n");
      writeListBlock(out, documents, kDocumentsPrefix, kDocumentsSuffix);
    }
  }
  out.markup("<|end_of_text|>\n");
}

} // namespace

RenderedChat renderGraniteChat(const Json &messages, const Json &tools, const Json &documents,
                               bool addGenerationPrompt) {
  if (!messages.is_array()) throw ChatTemplateError("messages must be a JSON array");
  ChatWriter out;
  writeSystemTurn(out, messages, tools, documents);
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json &message = messages[i];
    const std::string messageRole = role(message, i);
    const std::string content = contentText(message, i);
    if (messageRole == "system" || messageRole == "user") {
      if (messageRole == "system" && i == 0) continue; // already in the system turn
      out.markup("<|start_of_role|>" + messageRole + "<|end_of_role|>");
      out.literal(content);
      out.markup("<|end_of_text|>\n");
    } else if (messageRole == "assistant") {
      // Assistant content is model output: its <tool_call> and similar tags were single ids when generated.
      out.markup("<|start_of_role|>assistant<|end_of_role|>" + content);
      auto calls = message.find("tool_calls");
      if (calls != message.end() && !calls->is_null()) {
        if (!calls->is_array()) throw ChatTemplateError(where(i) + " has \"tool_calls\" that is not a list");
        for (size_t c = 0; c < calls->size(); ++c) {
          if (c > 0 || !content.empty()) out.markup("\n");
          writeToolCall(out, (*calls)[c], i);
        }
      }
      out.markup("<|end_of_text|>\n");
    } else if (messageRole == "tool") {
      // A run of consecutive tool messages is one user turn.
      if (i == 0 || role(messages[i - 1], i - 1) != "tool") out.markup("<|start_of_role|>user<|end_of_role|>");
      out.markup("\n<tool_response>\n");
      out.literal(content);
      out.markup("\n</tool_response>");
      if (i + 1 == messages.size() || role(messages[i + 1], i + 1) != "tool") out.markup("<|end_of_text|>\n");
    } else {
      throw ChatTemplateError(where(i) + " has role '" + messageRole +
                              "'; the Granite template knows system, user, assistant and tool");
    }
  }
  if (addGenerationPrompt) out.markup("<|start_of_role|>assistant<|end_of_role|>");
  return out.take();
}

bool isGranite4ChatTemplate(std::string_view jinjaTemplate) {
  auto has = [&](const char *text) { return jinjaTemplate.find(text) != std::string_view::npos; };
  return has("<|start_of_role|>") && (has("<tool_call>") || has("<tools>"));
}

} // namespace granite::runtime
