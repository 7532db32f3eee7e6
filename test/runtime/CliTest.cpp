// The generated executable's command line, driven with a scripted fake model and string streams.
#include "GraniteVocabularyFixture.h"
#include "ScriptedModel.h"
#include "runtime/ChatTemplate.h"
#include "runtime/CliOptions.h"
#include "runtime/GraniteVocabulary.h"
#include "runtime/Cli.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace granite::runtime::testing {
namespace {

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

/// Runs the CLI with `stdinText` as standard input. `model` (when given) is what the loader hands out.
CliRun runWith(const std::vector<std::string> &args, const std::string &stdinText = "",
               ScriptedModel *model = nullptr) {
  std::istringstream in(stdinText);
  std::ostringstream out, err;
  bool loaded = false;
  ModelLoader loader = [&]() -> std::unique_ptr<Model> {
    loaded = true;
    if (!model) throw std::runtime_error("this command should not need the model");
    // The CLI owns what the loader returns; hand it a forwarding wrapper so the test keeps the fake.
    struct Forward : Model {
      ScriptedModel &inner;
      explicit Forward(ScriptedModel &m) : inner(m) {}
      int32_t vocabSize() const override { return inner.vocabSize(); }
      int32_t contextLength() const override { return inner.contextLength(); }
      void reset() override { inner.reset(); }
      void forward(const int32_t *ids, int32_t count, float *logits) override { inner.forward(ids, count, logits); }
    };
    return std::make_unique<Forward>(*model);
  };
  int status = runCli("granite-test", args, graniteTokenizer(), loader, {in, out, err, false});
  return {status, out.str(), err.str()};
}

std::vector<int32_t> replyIds(const std::string &text) {
  std::vector<int32_t> ids = graniteTokenizer().encode(text, /*parseSpecial=*/true);
  ids.push_back(kGraniteEndOfTextId);
  return ids;
}

std::vector<nlohmann::json> jsonLines(const std::string &text) {
  std::vector<nlohmann::json> objects;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) objects.push_back(nlohmann::json::parse(line));
  return objects;
}

TEST(Cli, TokenizesWithAndWithoutSpecialTokens) {
  CliRun plain = runWith({"--tokenize", "Hi <tool_call>"});
  EXPECT_EQ(plain.status, 0);
  std::vector<int32_t> expected = graniteTokenizer().encode("Hi <tool_call>", false);
  std::string line;
  for (int32_t id : expected) line += (line.empty() ? "" : " ") + std::to_string(id);
  EXPECT_EQ(plain.out, line + "\n");
  EXPECT_EQ(runWith({"--tokenize", "Hi <tool_call>", "--special"}).out, "13347 220 100270\n");
}

TEST(Cli, DetokenizesExactlyWithNothingAdded) {
  std::vector<int32_t> ids = graniteTokenizer().encode("line one\n  two 🙂", false);
  std::string list;
  for (int32_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  CliRun run = runWith({"--detokenize", list});
  EXPECT_EQ(run.status, 0);
  EXPECT_EQ(run.out, "line one\n  two 🙂");
  EXPECT_EQ(runWith({"--detokenize", "100257,13347"}).out, "Hi");
  EXPECT_EQ(runWith({"--detokenize", "100257,13347", "--special"}).out, "<|end_of_text|>Hi");

  CliRun malformed = runWith({"--detokenize", "1,x"});
  EXPECT_EQ(malformed.status, 2);
  EXPECT_EQ(malformed.err, "granite-test: --detokenize expects comma-separated token ids, got 'x'\n");
  CliRun outOfRange = runWith({"--detokenize", "999999"});
  EXPECT_EQ(outOfRange.status, 1);
  EXPECT_NE(outOfRange.err.find("outside the vocabulary"), std::string::npos);
}

TEST(Cli, UnknownFlagIsOneLineAndStatusTwo) {
  CliRun run = runWith({"--bogus"});
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.err, "granite-test: unknown option '--bogus' (see --help)\n");
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(runWith({"--temp"}).err, "granite-test: --temp expects a value\n");
  EXPECT_EQ(runWith({"-p", "x", "--top-k", "many"}).err, "granite-test: --top-k expects a number, got 'many'\n");
  EXPECT_EQ(runWith({}).status, 2);
  EXPECT_EQ(runWith({"--system", "s", "-p", "x"}).status, 2);
}

TEST(Cli, HelpListsExactlyTheFlagsTheParserAccepts) {
  CliRun run = runWith({"--help"});
  EXPECT_EQ(run.status, 0);
  EXPECT_EQ(run.out.rfind("usage: granite-test", 0), 0u);
  // Every flag the help mentions parses (with a value where it takes one)...
  std::istringstream words(run.out);
  size_t flags = 0;
  for (std::string word; words >> word;) {
    if (word.rfind("--", 0) != 0 || word.size() < 3) continue;
    while (!word.empty() && !std::isalnum(static_cast<unsigned char>(word.back()))) word.pop_back();
    ++flags;
    CliRun probe = runWith({word, "1", "--tokenize", "x"});
    EXPECT_EQ(probe.err.find("unknown option"), std::string::npos) << word;
  }
  EXPECT_GE(flags, 20u);
  // ...and the flags the brief requires are all documented.
  for (const char *flag : {"-p", "--chat", "--system", "--tools", "--json", "--tokenize", "--detokenize", "--special",
                           "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--presence-penalty",
                           "--frequency-penalty", "--seed", "--stop", "--max-tokens"})
    EXPECT_NE(run.out.find(std::string(flag) + " "), std::string::npos) << flag;
}

TEST(Cli, CompletesARawPromptAndStreamsTheReply) {
  ScriptedModel model(kGraniteVocabularySize, {replyIds(" jumps over the lazy dog.")}, kGraniteEndOfTextId);
  CliRun run = runWith({"-p", "The quick brown fox"}, "", &model);
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, " jumps over the lazy dog.\n");
  EXPECT_EQ(model.promptCalls.at(0), graniteTokenizer().encode("The quick brown fox", false));
}

TEST(Cli, ChatKeepsTheConversationAndReusesTheModelState) {
  ScriptedModel model(kGraniteVocabularySize, {replyIds("Hello!"), replyIds("Paris.")}, kGraniteEndOfTextId);
  CliRun run = runWith({"--chat", "--json"}, "Hi there\n\nCapital of France?\n", &model);
  EXPECT_EQ(run.status, 0) << run.err;
  std::vector<nlohmann::json> replies = jsonLines(run.out);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0]["text"], "Hello!");
  EXPECT_EQ(replies[1]["text"], "Paris.");
  EXPECT_EQ(replies[1]["stop_reason"], "end_of_generation");

  nlohmann::ordered_json messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Capital of France?"}])");
  RenderedChat second = renderGraniteChat(messages, nullptr, nullptr, true);
  std::vector<int32_t> secondPrompt = graniteTokenizer().encodeTemplate(second.text, second.literalSpans);
  EXPECT_EQ(replies[1]["prompt_tokens"], secondPrompt.size());
  EXPECT_LT(replies[1]["evaluated_prompt_tokens"].get<size_t>(), secondPrompt.size());
  EXPECT_EQ(model.resets, 0);
  EXPECT_EQ(std::vector<int32_t>(model.held.begin(), model.held.begin() + secondPrompt.size()), secondPrompt);
}

TEST(Cli, ChatRendersSystemAndToolsAndReportsToolCalls) {
  const std::string toolsPath = std::string(GRANITE_BIN_DIR) + "/cli-test-tools.json";
  const std::string tools = R"([{"type": "function", "function": {"name": "get_current_weather", )"
                            R"("parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])";
  std::ofstream(toolsPath) << tools;
  ScriptedModel model(
      kGraniteVocabularySize,
      {replyIds("<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"city\": \"New York\"}}\n"
                "</tool_call>\n<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"city\": \"Paris\"}}"
                "\n</tool_call>")},
      kGraniteEndOfTextId);
  CliRun run = runWith({"--chat", "--json", "--system", "Be brief.", "--tools", toolsPath}, "Weather?\n", &model);
  ASSERT_EQ(run.status, 0) << run.err;
  std::vector<nlohmann::json> replies = jsonLines(run.out);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0]["tool_calls"].size(), 2u);
  EXPECT_EQ(replies[0]["tool_calls"][0]["name"], "get_current_weather");
  EXPECT_EQ(replies[0]["tool_calls"][1]["arguments"]["city"], "Paris");
  EXPECT_TRUE(replies[0]["tool_call_errors"].empty());
  EXPECT_GT(replies[0]["completion_tokens"].get<int>(), 10);
  EXPECT_TRUE(replies[0]["timings"].contains("tokens_per_second"));

  nlohmann::ordered_json messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}])");
  RenderedChat expected = renderGraniteChat(messages, nlohmann::ordered_json::parse(tools), nullptr, true);
  EXPECT_EQ(model.promptCalls.at(0), graniteTokenizer().encodeTemplate(expected.text, expected.literalSpans));

  CliRun badTools = runWith({"--chat", "--tools", "/nonexistent/tools.json"}, "", &model);
  EXPECT_EQ(badTools.status, 2);
  EXPECT_EQ(badTools.err, "granite-test: --tools: cannot open '/nonexistent/tools.json'\n");
}

TEST(Cli, TypedSpecialTokensStayTextInChatUnlessSpecial) {
  const std::string typed = "say <tool_call> please";
  nlohmann::ordered_json messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", typed}}});
  const std::string rendered = renderGraniteChat(messages, nullptr, nullptr, true).text;

  ScriptedModel plain(kGraniteVocabularySize, {replyIds("ok")}, kGraniteEndOfTextId);
  ASSERT_EQ(runWith({"--chat"}, typed + "\n", &plain).status, 0);
  EXPECT_EQ(std::count(plain.promptCalls.at(0).begin(), plain.promptCalls.at(0).end(), 100270), 0);
  EXPECT_EQ(graniteTokenizer().decode(plain.promptCalls.at(0), true), rendered);

  ScriptedModel special(kGraniteVocabularySize, {replyIds("ok")}, kGraniteEndOfTextId);
  ASSERT_EQ(runWith({"--chat", "--special"}, typed + "\n", &special).status, 0);
  EXPECT_EQ(special.promptCalls.at(0), graniteTokenizer().encode(rendered, true));
  EXPECT_EQ(std::count(special.promptCalls.at(0).begin(), special.promptCalls.at(0).end(), 100270), 1);
}

TEST(Cli, CtrlCStopsTheReplyButNotTheConversation) {
  ScriptedModel model(kGraniteVocabularySize,
                      {replyIds("one two three four five six seven"), replyIds("Still here.")}, kGraniteEndOfTextId);
  model.interruptReply = 0;
  model.interruptAtStep = 3;
  CliRun run = runWith({"--chat", "--json"}, "Count.\nAre you there?\n", &model);
  EXPECT_EQ(run.status, 0) << run.err;
  std::vector<nlohmann::json> replies = jsonLines(run.out);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0]["stop_reason"], "interrupted");
  EXPECT_EQ(replies[0]["text"], "one two three"); // SIGINT arrived while the third word was fed
  EXPECT_EQ(replies[1]["text"], "Still here.");
  EXPECT_EQ(replies[1]["stop_reason"], "end_of_generation");
}

TEST(Cli, StopStringsAndMaxTokensApply) {
  ScriptedModel stopModel(kGraniteVocabularySize, {replyIds("alpha beta END gamma")}, kGraniteEndOfTextId);
  EXPECT_EQ(runWith({"-p", "x", "--stop", "END"}, "", &stopModel).out, "alpha beta \n");
  ScriptedModel longModel(kGraniteVocabularySize, {replyIds("alpha beta gamma delta")}, kGraniteEndOfTextId);
  EXPECT_EQ(runWith({"-p", "x", "-n", "2"}, "", &longModel).out, "alpha beta\n");
}

TEST(Cli, SameSeedSameOutput) {
  auto sampleWithSeed = [](const std::string &seed) {
    // Uniform logits everywhere but the end token: the draw depends only on the seed.
    struct Uniform : Model {
      int32_t vocabSize() const override { return kGraniteVocabularySize; }
      int32_t contextLength() const override { return 0; }
      void reset() override {}
      void forward(const int32_t *, int32_t, float *logits) override {
        std::fill(logits, logits + kGraniteVocabularySize, 0.0f);
        logits[kGraniteEndOfTextId] = -100.0f;
      }
    };
    std::istringstream in;
    std::ostringstream out, err;
    runCli("granite-test", {"-p", "x", "--temp", "1", "--top-k", "0", "--top-p", "1", "--min-p", "0", "-n", "16",
                            "--seed", seed, "--json"},
           graniteTokenizer(), [] { return std::make_unique<Uniform>(); }, {in, out, err, false});
    return nlohmann::json::parse(out.str());
  };
  nlohmann::json first = sampleWithSeed("1234"), again = sampleWithSeed("1234"), other = sampleWithSeed("99");
  EXPECT_EQ(first["text"], again["text"]);
  EXPECT_NE(first["text"], other["text"]);
  EXPECT_EQ(first["seed"], 1234);
  EXPECT_EQ(first["completion_tokens"], 16);
}

} // namespace
} // namespace granite::runtime::testing
