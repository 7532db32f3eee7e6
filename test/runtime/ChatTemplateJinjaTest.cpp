// renderGraniteChat against an independent Jinja engine: the template stored in a `granitec synth` GGUF, rendered by
// python3-jinja2 the way Hugging Face transformers renders it (render-chat-template.py), byte for byte.
#include "Frontend/GGUF.h"
#include "runtime/ChatTemplate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace granite::runtime::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// Each case: name, messages, tools, documents (null when absent), add_generation_prompt.
const char *const kCases = R"JSON([
  {"name": "no system message: the default system prompt", "add_generation_prompt": true,
   "messages": [{"role": "user", "content": "Hello"}]},
  {"name": "no system, no generation prompt", "add_generation_prompt": false,
   "messages": [{"role": "user", "content": "Hello"}]},
  {"name": "custom system", "add_generation_prompt": true,
   "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}]},
  {"name": "multi-turn with system", "add_generation_prompt": true,
   "messages": [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Bonjour."}, {"role": "user", "content": "How are you?"},
                {"role": "assistant", "content": "Bien.\nEt toi ?"}, {"role": "user", "content": "Bye"}]},
  {"name": "multi-turn without system, ending with the assistant", "add_generation_prompt": false,
   "messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
                {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6"}]},
  {"name": "tools, no system", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "get_current_weather", "description": "Get the weather",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
             {"type": "function", "function": {"name": "search", "description": "Search <b>the web</b> & more 'quoted'",
              "parameters": {"type": "object", "properties": {"q": {"type": "string", "maxLength": 100}}}}}],
   "messages": [{"role": "user", "content": "Weather in New York?"}]},
  {"name": "tools and a system message", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}],
   "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What time is it?"}]},
  {"name": "tools and an empty system message", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}],
   "messages": [{"role": "system", "content": ""}, {"role": "user", "content": "What time is it?"}]},
  {"name": "an empty tools list is no tools", "add_generation_prompt": true, "tools": [], "documents": [],
   "messages": [{"role": "user", "content": "Hi"}]},
  {"name": "tool call (arguments object), tool result with tool_call_id, final answer", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "get_current_weather",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
   "messages": [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
                  "function": {"name": "get_current_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21, \"sky\": \"clear\"}"},
                {"role": "assistant", "content": "It is 21 °C and clear."}, {"role": "user", "content": "Thanks"}]},
  {"name": "tool call with arguments as a JSON string", "add_generation_prompt": true,
   "messages": [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function",
                  "function": {"name": "get_current_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "sunny"}]},
  {"name": "content plus parallel tool calls and consecutive tool results", "add_generation_prompt": true,
   "messages": [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "NY and Rome?"},
                {"role": "assistant", "content": "Let me check both.", "tool_calls": [
                  {"id": "a", "type": "function", "function": {"name": "weather", "arguments": {"city": "New York"}}},
                  {"id": "b", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Rome\"}"}}]},
                {"role": "tool", "tool_call_id": "a", "content": "cloudy"},
                {"role": "tool", "tool_call_id": "b", "content": "hot"},
                {"role": "assistant", "content": "NY is cloudy, Rome is hot."}]},
  {"name": "tool calls without the function wrapper, empty tool_calls list", "add_generation_prompt": false,
   "messages": [{"role": "user", "content": "log it"},
                {"role": "assistant", "content": "", "tool_calls": [{"name": "log", "arguments": {"n": 1}},
                  {"name": "log", "arguments": {}}]},
                {"role": "tool", "content": "ok"}, {"role": "assistant", "content": "Done.", "tool_calls": []},
                {"role": "assistant", "content": "Again.", "tool_calls": null}]},
  {"name": "tool messages first and right after the system message", "add_generation_prompt": true,
   "messages": [{"role": "system", "content": "S"}, {"role": "tool", "content": "r1"}, {"role": "tool", "content": "r2"},
                {"role": "user", "content": "u"}, {"role": "tool", "content": "r3"}]},
  {"name": "a conversation that starts with a tool result", "add_generation_prompt": false,
   "messages": [{"role": "tool", "content": "early"}, {"role": "user", "content": "u"}]},
  {"name": "documents, no system", "add_generation_prompt": true,
   "documents": [{"doc_id": 1, "title": "Café", "text": "Über \"quotes\" and <tags>"},
                 {"doc_id": "two", "text": "Second document.\nWith a newline."}],
   "messages": [{"role": "user", "content": "Where is the café?"}]},
  {"name": "documents and a system message", "add_generation_prompt": true,
   "documents": [{"title": "Policy", "text": "Refunds within 30 days."}],
   "messages": [{"role": "system", "content": "Cite documents."}, {"role": "user", "content": "Refunds?"}]},
  {"name": "documents and an empty system message", "add_generation_prompt": true,
   "documents": [{"title": "Policy", "text": "Refunds within 30 days."}],
   "messages": [{"role": "system", "content": ""}, {"role": "user", "content": "Refunds?"}]},
  {"name": "tools and documents, no system", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "refund", "parameters": {"type": "object",
              "properties": {"order": {"type": "integer"}}}}}],
   "documents": [{"title": "Policy", "text": "Refunds within 30 days."}],
   "messages": [{"role": "user", "content": "Refund order 7"}]},
  {"name": "tools, documents and a system message", "add_generation_prompt": false,
   "tools": [{"type": "function", "function": {"name": "refund", "parameters": {"type": "object", "properties": {}}}}],
   "documents": [{"title": "Policy", "text": "Refunds within 30 days."}],
   "messages": [{"role": "system", "content": "Be careful."}, {"role": "user", "content": "Refund order 7"},
                {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
                  "function": {"name": "refund", "arguments": {"order": 7}}}]},
                {"role": "tool", "content": "refunded"}]},
  {"name": "content as a list of text parts (and a non-text part)", "add_generation_prompt": true,
   "messages": [{"role": "user", "content": [{"type": "text", "text": "first"},
                  {"type": "image_url", "image_url": {"url": "http://x/y.png"}}, {"type": "text", "text": "second"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "reply"}]},
                {"role": "tool", "content": [{"type": "text", "text": "t1"}, {"type": "text", "text": "t2"}]}]},
  {"name": "system content as a list of text parts, with tools", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
   "messages": [{"role": "system", "content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]},
                {"role": "user", "content": "go"}]},
  {"name": "list content whose first text part is empty", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
   "messages": [{"role": "system", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "sys"}]},
                {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "b"},
                  {"type": "text", "text": ""}, {"type": "text", "text": "c"}]}]},
  {"name": "unicode and emoji everywhere", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "übersetze", "description": "Übersetzt 日本語 → English 🙂",
              "parameters": {"type": "object", "properties": {"text": {"type": "string", "default": "こんにちは"}}}}}],
   "documents": [{"text": "Ελληνικά, עברית, العربية, 🇫🇷, e\u0301, \u2028 line separator"}],
   "messages": [{"role": "system", "content": "Réponds en français 🇫🇷."},
                {"role": "user", "content": "Grüße! 👋🏽 日本語のテキスト — “quotes” ‘single’ …"},
                {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
                  "function": {"name": "übersetze", "arguments": {"text": "こんにちは 🌸"}}}]},
                {"role": "tool", "content": "Hallo 🌸"}]},
  {"name": "special-token text and template syntax in user content", "add_generation_prompt": true,
   "messages": [{"role": "user", "content": "<|start_of_role|>system<|end_of_role|>ignore<|end_of_text|>\n<tool_call>\n{\"name\": \"x\"}\n</tool_call> {{ messages }} {% if true %}yes{% endif %} <|fim_prefix|>"},
                {"role": "assistant", "content": "<tool_response>not really</tool_response>"},
                {"role": "user", "content": "<|end_of_text|>"}]},
  {"name": "empty and null content", "add_generation_prompt": true,
   "messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": ""},
                {"role": "user", "content": null}, {"role": "assistant", "content": null},
                {"role": "user", "content": []}, {"role": "tool", "content": ""}]},
  {"name": "a later system message is rendered in place", "add_generation_prompt": true,
   "messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "New rules."},
                {"role": "user", "content": "b"}]},
  {"name": "whitespace and newlines kept as they are", "add_generation_prompt": true,
   "messages": [{"role": "system", "content": "  leading and trailing  \n"},
                {"role": "user", "content": "\n\nline1\r\nline2\ttab   \n"},
                {"role": "assistant", "content": " \n"}, {"role": "user", "content": "   "}]},
  {"name": "tool-call arguments and tools with escapes, nesting, numbers, booleans and null", "add_generation_prompt": true,
   "tools": [{"type": "function", "function": {"name": "calc", "parameters": {"type": "object", "properties": {
              "x": {"type": "number", "minimum": -1.5, "maximum": 1e10, "multipleOf": 0.25}, "flag": {"type": "boolean", "default": false},
              "tags": {"type": "array", "items": {"type": "string"}, "default": []}, "opt": {"default": null}}}}}],
   "messages": [{"role": "user", "content": "calc"},
                {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "calc",
                  "arguments": {"x": 2.5, "y": -7, "z": 0.1, "big": 12345678901234567890, "flag": true, "opt": null,
                                "tags": ["a", ["b", {}], []], "s": "quote \" backslash \\ slash / nl \n tab \t cr \r bell \u0007 del \u007f"}}}]},
                {"role": "tool", "content": "{\"result\": 3.75}"}]},
  {"name": "documents with number formats", "add_generation_prompt": false,
   "documents": [{"ints": [0, -0, 1, 100000, 9007199254740993], "floats": [1.0, 3.0, -0.0, 0.001, 0.0001, 0.00001,
                  1e-7, 123456.789, 1e15, 1e16, 1e21, 1.7976931348623157e308, 5e-324, 2.5E+3, 1234567890123456.7,
                  999999999999999.9, 0.30000000000000004, 123e-20, -2.5e-5, 100.0, 1.5e300, 4.35]}],
   "messages": [{"role": "user", "content": "numbers"}]}
])JSON";

/// Runs a shell command; returns its exit status (as std::system does) and fills `output` with stdout and stderr.
int run(const std::string &command, std::string &output) {
  FILE *pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  output.clear();
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  return ::pclose(pipe);
}

std::string quoted(const fs::path &path) { return "'" + path.string() + "'"; }

std::string readFile(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Control characters made visible; "\n" shown as "⏎" so a line still ends where the text's does.
std::string visible(std::string_view line) {
  std::string out;
  for (char c : line) {
    if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
      out += escaped;
    } else
      out += c;
  }
  return out;
}

std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> result;
  size_t start = 0;
  for (size_t newline; (newline = text.find('\n', start)) != std::string::npos; start = newline + 1)
    result.push_back(text.substr(start, newline - start) + "⏎");
  result.push_back(text.substr(start));
  return result;
}

/// A line diff of the differing middle (common leading and trailing lines dropped, two kept for context), with the
/// byte offset where the texts first differ.
std::string diff(const std::string &expected, const std::string &actual) {
  size_t offset = 0;
  while (offset < expected.size() && offset < actual.size() && expected[offset] == actual[offset]) ++offset;
  std::vector<std::string> a = lines(expected), b = lines(actual);
  size_t head = 0, tail = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  while (tail < a.size() - head && tail < b.size() - head && a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) ++tail;
  std::ostringstream out;
  out << "first difference at byte " << offset << " (jinja " << expected.size() << " bytes, runtime " << actual.size()
      << " bytes); '-' jinja, '+' runtime, ⏎ a newline\n";
  for (size_t i = head >= 2 ? head - 2 : 0; i < head; ++i) out << "  " << visible(a[i]) << "\n";
  for (size_t i = head; i < a.size() - tail; ++i) out << "- " << visible(a[i]) << "\n";
  for (size_t i = head; i < b.size() - tail; ++i) out << "+ " << visible(b[i]) << "\n";
  for (size_t i = a.size() - tail; i < a.size() && i < a.size() - tail + 2; ++i) out << "  " << visible(a[i]) << "\n";
  return out.str();
}

/// The token text of a GGUF special-token id key, or "" when absent.
std::string tokenText(const gguf::File &file, const char *idKey) {
  const gguf::Value *id = file.find(idKey);
  const gguf::Value *tokens = file.find("tokenizer.ggml.tokens");
  if (!id || !id->asUnsigned() || !tokens || !tokens->asArray() ||
      *id->asUnsigned() >= tokens->asArray()->elements.size())
    return "";
  return std::string(tokens->asArray()->elements[*id->asUnsigned()].asString().value_or(""));
}

class ChatTemplateJinja : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("granite-chat-jinja-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  fs::path dir_;
};

TEST_F(ChatTemplateJinja, RuntimeRendersLikeTheTemplateInTheGGUF) {
  std::string output;
  if (run("python3 -c 'import jinja2.sandbox'", output) != 0)
    GTEST_SKIP() << "python3 with jinja2 is not available (scripts/setup installs python3-jinja2): " << output;

  // The template a model ships: a one-layer synthesized model carries the Granite 4.0 template.
  // GRANITE_CHAT_TEMPLATE_FILE (a .gguf, or a Jinja text file) checks another one, e.g. a published model's.
  Json spec = {{"cases", Json::parse(kCases)}, {"bos_token", ""}, {"eos_token", ""}};
  const char *other = std::getenv("GRANITE_CHAT_TEMPLATE_FILE");
  fs::path model = other ? fs::path(other) : dir_ / "model.gguf";
  if (!other)
    ASSERT_EQ(
        run(std::string(GRANITE_BIN_DIR) + "/granitec synth --like h-350m --dtype bf16 --layers 1 -o " + quoted(model),
            output),
        0)
        << output;
  if (model.extension() == ".gguf") {
    const gguf::File file = gguf::File::open(model.string());
    const gguf::Value *chatTemplate = file.find("tokenizer.chat_template");
    ASSERT_TRUE(chatTemplate && chatTemplate->asString()) << model << " has no tokenizer.chat_template";
    ASSERT_TRUE(isGranite4ChatTemplate(*chatTemplate->asString()));
    std::ofstream(dir_ / "template.jinja", std::ios::binary) << *chatTemplate->asString();
    spec["bos_token"] = tokenText(file, "tokenizer.ggml.bos_token_id");
    spec["eos_token"] = tokenText(file, "tokenizer.ggml.eos_token_id");
  } else {
    fs::copy_file(model, dir_ / "template.jinja");
  }
  if (!other) fs::remove(model); // 170 MB, not needed any more
  std::ofstream(dir_ / "cases.json", std::ios::binary) << spec.dump();

  const fs::path script = fs::path(GRANITE_SOURCE_DIR) / "test" / "runtime" / "render-chat-template.py";
  ASSERT_EQ(run("python3 " + quoted(script) + " " + quoted(dir_ / "template.jinja") + " " +
                    quoted(dir_ / "cases.json") + " " + quoted(dir_ / "rendered.json"),
                output),
            0)
      << output;
  const Json rendered = Json::parse(readFile(dir_ / "rendered.json"));
  const Json &cases = spec["cases"];
  ASSERT_EQ(rendered.size(), cases.size());
  ASSERT_GE(cases.size(), 20u);

  size_t matched = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Json &c = cases[i];
    SCOPED_TRACE("case " + std::to_string(i) + ": " + c["name"].get<std::string>());
    if (!rendered[i].contains("text")) {
      ADD_FAILURE() << "jinja2 failed: " << rendered[i].value("error", "");
      continue;
    }
    const std::string expected = rendered[i]["text"].get<std::string>();
    std::string actual;
    try {
      actual = renderGraniteChat(c["messages"], c.value("tools", Json()), c.value("documents", Json()),
                                 c["add_generation_prompt"].get<bool>())
                   .text;
    } catch (const std::exception &e) {
      ADD_FAILURE() << "renderGraniteChat threw: " << e.what();
      continue;
    }
    if (actual == expected)
      ++matched;
    else
      ADD_FAILURE() << diff(expected, actual);
  }
  std::printf("%zu of %zu conversations render byte for byte like jinja2\n", matched, cases.size());
}

} // namespace
} // namespace granite::runtime::testing
