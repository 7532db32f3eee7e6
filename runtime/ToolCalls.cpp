#include "runtime/ToolCalls.h"

namespace granite::runtime {
namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

std::string_view trimmed(std::string_view text) {
  const char *space = " \t\r\n";
  size_t first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

/// The call in one block's text, or an error message.
std::variant<ToolCall, std::string> parseBlock(std::string_view body) {
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return std::string("malformed JSON");
  if (!json.is_object()) return std::string("the JSON is not an object");
  auto name = json.find("name");
  if (name == json.end() || !name->is_string()) return std::string("no string \"name\"");
  auto arguments = json.find("arguments");
  if (arguments == json.end()) return std::string("no \"arguments\"");
  nlohmann::ordered_json argumentObject = *arguments;
  // Some replies give the arguments as a JSON string holding the object.
  if (argumentObject.is_string())
    argumentObject = nlohmann::ordered_json::parse(argumentObject.get<std::string>(), nullptr, false);
  if (!argumentObject.is_object()) return std::string("\"arguments\" is not a JSON object");
  return ToolCall{name->get<std::string>(), std::move(argumentObject)};
}

} // namespace

ParsedReply parseToolCalls(std::string_view reply) {
  ParsedReply parsed;
  size_t pos = 0;
  bool sawBlock = false;
  while (pos < reply.size()) {
    size_t open = reply.find(kOpen, pos);
    size_t strayClose = reply.substr(0, open).find(kClose, pos);
    if (strayClose != std::string_view::npos) {
      parsed.errors.push_back("</tool_call> at byte " + std::to_string(strayClose) + " closes no <tool_call>");
      parsed.content.append(reply.substr(pos, strayClose - pos));
      pos = strayClose + kClose.size();
      continue;
    }
    if (open == std::string_view::npos) break;
    sawBlock = true;
    parsed.content.append(reply.substr(pos, open - pos));
    size_t bodyStart = open + kOpen.size();
    size_t close = reply.find(kClose, bodyStart);
    if (close == std::string_view::npos) {
      parsed.errors.push_back("<tool_call> at byte " + std::to_string(open) + " is not terminated by </tool_call>");
      pos = reply.size();
      break;
    }
    auto result = parseBlock(trimmed(reply.substr(bodyStart, close - bodyStart)));
    if (auto *call = std::get_if<ToolCall>(&result))
      parsed.toolCalls.push_back(std::move(*call));
    else
      parsed.errors.push_back("tool call at byte " + std::to_string(open) + ": " + std::get<std::string>(result));
    pos = close + kClose.size();
  }
  if (pos < reply.size()) parsed.content.append(reply.substr(pos));
  if (sawBlock) parsed.content = std::string(trimmed(parsed.content));
  return parsed;
}

nlohmann::ordered_json toolCallJson(const ToolCall &call) {
  return nlohmann::ordered_json{{"name", call.name}, {"arguments", call.arguments}};
}

} // namespace granite::runtime
