// The Granite 4.0 chat template, checked against strings written out by hand from spec §5 (and the published
// Jinja template it describes), byte for byte.
#include "runtime/ChatTemplate.h"
#include "runtime/TemplateJson.h"

#include <gtest/gtest.h>

namespace granite::runtime::testing {
namespace {

using Json = nlohmann::ordered_json;

const std::string kDefaultSystem =
    "<|start_of_role|>system<|end_of_role|>You are a helpful assistant. Please ensure responses are professional, "
    "accurate, and safe.<|end_of_text|>\n";
const std::string kToolsPrefix =
    "You are a helpful assistant with access to the following tools. You may call one or more tools to assist with "
    "the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>";
const std::string kToolsSuffix =
    "\n</tools>\n\nFor each tool call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\n</tool_call>. If a tool does not exist in the provided list of tools, notify the user that "
    "you do not have the ability to fulfill the request.";
const std::string kDocumentsPrefix =
    "You are a helpful assistant with access to the following documents. You may use one or more documents to "
    "assist with the user query.\n\nYou are given a list of documents within <documents></documents> XML "
    "tags:\n<documents>";
const std::string kDocumentsSuffix =
    "\n</documents>\n\nWrite the response to the user's input by strictly aligning with the facts in the provided "
    "documents. If the information needed to answer the question is not available in the documents, inform the "
    "user that the question cannot be answered based on the available data.";
const std::string kWeatherTool =
    R"({"type": "function", "function": {"name": "get_current_weather", "description": "Get the weather", )"
    R"("parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})";

Json weatherTools() { return Json::array({Json::parse(kWeatherTool)}); }

TEST(ChatTemplate, UsesTheDefaultSystemPromptWithoutSystemToolsOrDocuments) {
  Json messages = Json::parse(R"([{"role": "user", "content": "Hello"}])");
  EXPECT_EQ(renderGraniteChat(messages, Json(), Json(), true).text,
            kDefaultSystem + "<|start_of_role|>user<|end_of_role|>Hello<|end_of_text|>\n"
                             "<|start_of_role|>assistant<|end_of_role|>");
  EXPECT_EQ(renderGraniteChat(messages, Json::array(), Json::array(), false).text,
            kDefaultSystem + "<|start_of_role|>user<|end_of_role|>Hello<|end_of_text|>\n");
}

TEST(ChatTemplate, RendersASystemMessageAndAMultiTurnConversation) {
  Json messages = Json::parse(R"([{"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Bye"}])");
  EXPECT_EQ(renderGraniteChat(messages, Json(), Json(), true).text,
            "<|start_of_role|>system<|end_of_role|>You are terse.<|end_of_text|>\n"
            "<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n"
            "<|start_of_role|>assistant<|end_of_role|>Hello.<|end_of_text|>\n"
            "<|start_of_role|>user<|end_of_role|>Bye<|end_of_text|>\n"
            "<|start_of_role|>assistant<|end_of_role|>");
}

TEST(ChatTemplate, PutsToolsIntoTheSystemTurn) {
  Json messages = Json::parse(R"([{"role": "user", "content": "Weather in New York?"}])");
  EXPECT_EQ(renderGraniteChat(messages, weatherTools(), Json(), true).text,
            "<|start_of_role|>system<|end_of_role|>" + kToolsPrefix + "\n" + kWeatherTool + kToolsSuffix +
                "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Weather in New York?<|end_of_text|>\n"
                "<|start_of_role|>assistant<|end_of_role|>");

  Json withSystem = Json::parse(R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])");
  EXPECT_EQ(renderGraniteChat(withSystem, weatherTools(), Json(), false).text,
            "<|start_of_role|>system<|end_of_role|>Be brief.\n\n" + kToolsPrefix + "\n" + kWeatherTool + kToolsSuffix +
                "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n");

  // The Jinja template joins with "\n\n" even when the first system message is empty.
  Json emptySystem = Json::parse(R"([{"role": "system", "content": ""}, {"role": "user", "content": "Hi"}])");
  EXPECT_EQ(renderGraniteChat(emptySystem, weatherTools(), Json(), false).text,
            "<|start_of_role|>system<|end_of_role|>\n\n" + kToolsPrefix + "\n" + kWeatherTool + kToolsSuffix +
                "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n");
}

TEST(ChatTemplate, RendersDocumentsWithNonAsciiKept) {
  Json messages = Json::parse(R"([{"role": "user", "content": "Where?"}])");
  Json documents = Json::parse(R"([{"doc_id": 1, "title": "Café", "text": "Über \"quotes\""}])");
  const std::string documentsBlock =
      kDocumentsPrefix + "\n{\"doc_id\": 1, \"title\": \"Café\", \"text\": \"Über \\\"quotes\\\"\"}" + kDocumentsSuffix;
  EXPECT_EQ(renderGraniteChat(messages, Json(), documents, false).text,
            "<|start_of_role|>system<|end_of_role|>" + documentsBlock +
                "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Where?<|end_of_text|>\n");

  Json withSystem = Json::parse(R"([{"role": "system", "content": "S"}, {"role": "user", "content": "Where?"}])");
  EXPECT_EQ(renderGraniteChat(withSystem, weatherTools(), documents, false).text,
            "<|start_of_role|>system<|end_of_role|>S\n\n" + kToolsPrefix + "\n" + kWeatherTool + kToolsSuffix + "\n\n" +
                documentsBlock + "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Where?<|end_of_text|>\n");
}

TEST(ChatTemplate, RendersAssistantToolCallsAndToolResponses) {
  Json messages = Json::parse(R"([
    {"role": "user", "content": "Weather in New York and Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
      {"type": "function", "function": {"name": "get_current_weather", "arguments": {"city": "New York"}}},
      {"name": "get_current_weather", "arguments": "{\"city\":\"Paris\"}"}]},
    {"role": "tool", "content": "{\"temp\": 20}"},
    {"role": "tool", "content": "sunny"},
    {"role": "assistant", "content": "Both are fine.", "tool_calls": [{"name": "log", "arguments": {"n": 1}}]},
    {"role": "tool", "content": "ok"}])");
  EXPECT_EQ(
      renderGraniteChat(messages, Json(), Json(), true).text,
      kDefaultSystem +
          "<|start_of_role|>user<|end_of_role|>Weather in New York and Paris?<|end_of_text|>\n"
          "<|start_of_role|>assistant<|end_of_role|>"
          "<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"city\": \"New York\"}}\n</tool_call>\n"
          "<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call>"
          "<|end_of_text|>\n"
          "<|start_of_role|>user<|end_of_role|>\n<tool_response>\n{\"temp\": 20}\n</tool_response>"
          "\n<tool_response>\nsunny\n</tool_response><|end_of_text|>\n"
          "<|start_of_role|>assistant<|end_of_role|>Both are fine.\n"
          "<tool_call>\n{\"name\": \"log\", \"arguments\": {\"n\": 1}}\n</tool_call><|end_of_text|>\n"
          "<|start_of_role|>user<|end_of_role|>\n<tool_response>\nok\n</tool_response><|end_of_text|>\n"
          "<|start_of_role|>assistant<|end_of_role|>");
}

TEST(ChatTemplate, JoinsTextPartsAndRendersLaterSystemMessagesInPlace) {
  Json messages = Json::parse(R"([
    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": 5, "text": "not text"},
                                 {"type": "text", "text": "b"}]},
    {"role": "system", "content": "later"}, {"role": "assistant", "content": null}])");
  EXPECT_EQ(renderGraniteChat(messages, Json(), Json(), false).text,
            kDefaultSystem + "<|start_of_role|>user<|end_of_role|>a\nb<|end_of_text|>\n"
                             "<|start_of_role|>system<|end_of_role|>later<|end_of_text|>\n"
                             "<|start_of_role|>assistant<|end_of_role|><|end_of_text|>\n");
}

TEST(ChatTemplate, MarksTheTextUsersSuppliedAsLiteral) {
  Json messages = Json::parse(R"([{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
    {"role": "assistant", "content": "A", "tool_calls": [{"name": "N", "arguments": {"k": 1}}]},
    {"role": "tool", "content": "T"}])");
  RenderedChat chat = renderGraniteChat(messages, weatherTools(), Json::parse(R"([{"d": 2}])"), true);
  std::vector<std::string> literals;
  for (const TextSpan &span : chat.literalSpans) literals.push_back(chat.text.substr(span.offset, span.length));
  // The assistant's "A" is model output, not literal.
  EXPECT_EQ(literals, (std::vector<std::string>{"S", kWeatherTool, "{\"d\": 2}", "U", "N", "{\"k\": 1}", "T"}));
}

TEST(ChatTemplate, ReportsMalformedConversations) {
  EXPECT_THROW(renderGraniteChat(Json::object(), Json(), Json(), true), ChatTemplateError);
  try {
    renderGraniteChat(Json::parse(R"([{"role": "user", "content": "x"}, {"role": "robot", "content": "y"}])"), Json(),
                      Json(), true);
    FAIL() << "expected ChatTemplateError";
  } catch (const ChatTemplateError &e) {
    EXPECT_STREQ(e.what(), "message 1 has role 'robot'; the Granite template knows system, user, assistant and tool");
  }
  EXPECT_THROW(renderGraniteChat(Json::parse(R"([{"content": "x"}])"), Json(), Json(), true), ChatTemplateError);
  EXPECT_THROW(renderGraniteChat(Json::parse(R"([{"role": "assistant", "tool_calls": [{"arguments": {}}]}])"), Json(),
                                 Json(), true),
               ChatTemplateError);
  EXPECT_THROW(renderGraniteChat(Json::parse(R"([{"role": "user", "content": 5}])"), Json(), Json(), true),
               ChatTemplateError);
}

TEST(TemplateJson, WritesLikePythonJsonDumps) {
  Json value = Json::parse(R"({"b": [1, [2, 3], {}, []], "a": "say \"hi\"\n\t\u0001 ü 🙂", "c": null, "d": true,
                               "e": 2.5, "f": -7})");
  EXPECT_EQ(toTemplateJson(value),
            "{\"b\": [1, [2, 3], {}, []], \"a\": \"say \\\"hi\\\"\\n\\t\\u0001 ü 🙂\", \"c\": null, \"d\": true, "
            "\"e\": 2.5, \"f\": -7}");
  EXPECT_THROW(toTemplateJson(Json("\xFF")), std::invalid_argument);
}

TEST(TemplateJson, WritesFloatsLikePythonRepr) {
  // Python's json.dumps output for the same numbers (positional up to 1e16, shortest round-trip digits).
  Json value = Json::parse(
      "[1e15, 1e16, 1234567890123456.7, 0.0001, 1e-05, 100.0, -0.0, 0.30000000000000004, 5e-324, 1.5e300, 2.5e-5]");
  EXPECT_EQ(toTemplateJson(value), "[1000000000000000.0, 1e+16, 1234567890123456.8, 0.0001, 1e-05, 100.0, -0.0, "
                                   "0.30000000000000004, 5e-324, 1.5e+300, 2.5e-05]");
}

TEST(ChatTemplateFamily, DetectsGranite4TemplatesLikeLlamaCpp) {
  EXPECT_TRUE(isGranite4ChatTemplate("{{- '<|start_of_role|>system<|end_of_role|>' }}...<tool_call>..."));
  EXPECT_TRUE(isGranite4ChatTemplate("<|start_of_role|> ... <tools>"));
  EXPECT_FALSE(isGranite4ChatTemplate("<|start_of_role|>user<|end_of_role|>")); // Granite 3.x style, no tools tags
  EXPECT_FALSE(isGranite4ChatTemplate("{% for m in messages %}<|im_start|>{{ m.role }}\n<tool_call>{% endfor %}"));
}

} // namespace
} // namespace granite::runtime::testing
