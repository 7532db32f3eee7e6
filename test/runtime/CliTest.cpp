// The generated executable's command line, driven with a scripted fake model and string streams.
#include "runtime/Cli.h"
#include "GraniteVocabularyFixture.h"
#include "ScriptedModel.h"
#include "runtime/ChatTemplate.h"
#include "runtime/CliOptions.h"
#include "runtime/GraniteVocabulary.h"

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
CliRun runWith(const std::vector<std::string> &args, const std::string &stdinText = "", ScriptedModel *model = nullptr,
               bool interactive = false) {
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
      bool truncate(int32_t positions) override { return inner.truncate(positions); }
      std::unique_ptr<ModelSnapshot> snapshot() const override { return inner.snapshot(); }
      void restore(const ModelSnapshot &snapshot) override { inner.restore(snapshot); }
    };
    return std::make_unique<Forward>(*model);
  };
  int status = runCli("granite-test", args, graniteTokenizer(), loader, {in, out, err, interactive});
  return {status, out.str(), err.str()};
}

/// A ScriptedModel that takes snapshots of what it holds and restores them, but cannot roll back: a recurrent model.
class SnapshotScriptedModel : public ScriptedModel {
public:
  using ScriptedModel::ScriptedModel;
  struct Snapshot : ModelSnapshot {
    std::vector<int32_t> held;
    uint64_t bytes() const override { return held.size() * sizeof(int32_t); }
  };
  std::unique_ptr<ModelSnapshot> snapshot() const override {
    auto copy = std::make_unique<Snapshot>();
    copy->held = held;
    return copy;
  }
  void restore(const ModelSnapshot &snapshot) override { held = dynamic_cast<const Snapshot &>(snapshot).held; }
};

std::vector<int32_t> replyIds(const std::string &text) {
  std::vector<int32_t> ids = graniteTokenizer().encode(text, /*parseSpecial=*/true);
  ids.push_back(kGraniteEndOfTextId);
  return ids;
}

/// The reply text of a chat.completion object.
std::string content(const nlohmann::json &reply) { return reply["choices"][0]["message"]["content"]; }

/// The ids of a chat rendered with the template, as the CLI feeds them.
std::vector<int32_t> chatPrompt(const nlohmann::ordered_json &messages) {
  RenderedChat rendered = renderGraniteChat(messages, nullptr, nullptr, true);
  return graniteTokenizer().encodeTemplate(rendered.text, rendered.literalSpans);
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
  for (const char *flag : {"-p",
                           "--chat",
                           "--system",
                           "--tools",
                           "--json",
                           "--tokenize",
                           "--detokenize",
                           "--special",
                           "--temp",
                           "--top-k",
                           "--top-p",
                           "--min-p",
                           "--repeat-penalty",
                           "--presence-penalty",
                           "--frequency-penalty",
                           "--seed",
                           "--stop",
                           "--max-tokens",
                           "--file",
                           "--threads",
                           "--ctx-size",
                           "--version",
                           "--serve",
                           "--host",
                           "--port",
                           "--api-key",
                           "--max-queue",
                           "--state-cache-mb"})
    EXPECT_NE(run.out.find(std::string(flag) + " "), std::string::npos) << flag;
  for (const char *alias : {"-f, --file", "-t, --threads", "-c, --ctx-size", "-n, --max-tokens"})
    EXPECT_NE(run.out.find(alias), std::string::npos) << alias;
  // The server's flags have a section of their own.
  const size_t server = run.out.find("\nServer ");
  ASSERT_NE(server, std::string::npos);
  for (const char *flag : {"--host", "--port", "--api-key", "--max-queue"})
    EXPECT_LT(run.out.find(std::string("  ") + flag, server), run.out.find("\n\n", server)) << flag;
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
  EXPECT_EQ(content(replies[0]), "Hello!");
  EXPECT_EQ(content(replies[1]), "Paris.");
  EXPECT_EQ(replies[1]["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(replies[1]["stop_reason"], "end_of_generation");

  std::vector<int32_t> secondPrompt = chatPrompt(nlohmann::ordered_json::parse(
      R"([{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"},
          {"role": "user", "content": "Capital of France?"}])"));
  EXPECT_EQ(replies[1]["usage"]["prompt_tokens"], secondPrompt.size());
  EXPECT_GT(replies[1]["usage"]["prompt_tokens_details"]["cached_tokens"].get<size_t>(), 0u);
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
  EXPECT_EQ(replies[0]["object"], "chat.completion");
  EXPECT_EQ(replies[0]["model"], "granite-test");
  const nlohmann::json &message = replies[0]["choices"][0]["message"];
  EXPECT_TRUE(message["content"].is_null());
  ASSERT_EQ(message["tool_calls"].size(), 2u);
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_current_weather");
  EXPECT_EQ(nlohmann::json::parse(message["tool_calls"][1]["function"]["arguments"].get<std::string>())["city"],
            "Paris");
  EXPECT_EQ(replies[0]["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_GT(replies[0]["usage"]["completion_tokens"].get<int>(), 10);
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
  ScriptedModel model(kGraniteVocabularySize, {replyIds("one two three four five six seven"), replyIds("Still here.")},
                      kGraniteEndOfTextId);
  model.interruptReply = 0;
  model.interruptAtStep = 3;
  CliRun run = runWith({"--chat", "--json"}, "Count.\nAre you there?\n", &model);
  EXPECT_EQ(run.status, 0) << run.err;
  std::vector<nlohmann::json> replies = jsonLines(run.out);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0]["stop_reason"], "interrupted");
  EXPECT_EQ(content(replies[0]), "one two three"); // SIGINT arrived while the third word was fed
  EXPECT_EQ(content(replies[1]), "Still here.");
  EXPECT_EQ(replies[1]["stop_reason"], "end_of_generation");
}

TEST(Cli, StopStringsAndMaxTokensApply) {
  ScriptedModel stopModel(kGraniteVocabularySize, {replyIds("alpha beta END gamma")}, kGraniteEndOfTextId);
  EXPECT_EQ(runWith({"-p", "x", "--stop", "END"}, "", &stopModel).out, "alpha beta \n");
  ScriptedModel longModel(kGraniteVocabularySize, {replyIds("alpha beta gamma delta")}, kGraniteEndOfTextId);
  EXPECT_EQ(runWith({"-p", "x", "-n", "2"}, "", &longModel).out, "alpha beta\n");
}

/// The id of the byte-level token of one byte (every byte has one in the Granite vocabulary).
int32_t byteTokenId(char byte) {
  const Tokenizer &tokenizer = graniteTokenizer();
  for (int32_t id = 0; id < tokenizer.size(); ++id)
    if (tokenizer.tokenBytes(id, false) == std::string(1, byte)) return id;
  ADD_FAILURE() << "no token for byte " << int(static_cast<unsigned char>(byte));
  return 0;
}

TEST(Cli, TextOutputIsValidUtf8UnlessRawBytes) {
  const std::string euroLead = "\xE2", replacement = "\xEF\xBF\xBD";
  const int32_t lead = byteTokenId(euroLead[0]);
  // A reply of half a character: U+FFFD, as printed text and in --detokenize.
  ScriptedModel model(kGraniteVocabularySize, {{lead, kGraniteEndOfTextId}, {lead, kGraniteEndOfTextId}},
                      kGraniteEndOfTextId);
  EXPECT_EQ(runWith({"-p", "x"}, "", &model).out, replacement + "\n");
  EXPECT_EQ(runWith({"-p", "x", "--raw-bytes"}, "", &model).out, euroLead + "\n");
  EXPECT_EQ(runWith({"--detokenize", std::to_string(lead)}).out, replacement);
  EXPECT_EQ(runWith({"--detokenize", std::to_string(lead), "--raw-bytes"}).out, euroLead);

  // Messages that quote what was typed.
  CliRun unknown = runWith({"--\xFF"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_EQ(unknown.err, "granite-test: unknown option '--" + replacement + "' (see --help)\n");
  // A stop string that is not UTF-8 could only match inside a character of the valid text.
  CliRun stop = runWith({"-p", "x", "--stop", "\x80"});
  EXPECT_EQ(stop.status, 2);
  EXPECT_EQ(stop.err, "granite-test: --stop: '" + replacement +
                          "' is not valid UTF-8, so it can never match the reply's text (give --raw-bytes to match "
                          "bytes)\n");
  for (const std::vector<std::string> &args : std::vector<std::vector<std::string>>{
           {"-p", "x", "--json", "--raw-bytes"}, {"--serve", "--raw-bytes"}, {"--tokenize", "x", "--raw-bytes"}}) {
    CliRun refused = runWith(args);
    EXPECT_EQ(refused.status, 2) << args[0];
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  }
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
    runCli("/opt/models/granite-test",
           {"-p", "x", "--temp", "1", "--top-k", "0", "--top-p", "1", "--min-p", "0", "-n", "16", "--seed", seed,
            "--json"},
           graniteTokenizer(), [] { return std::make_unique<Uniform>(); }, {in, out, err, false});
    return nlohmann::json::parse(out.str());
  };
  nlohmann::json first = sampleWithSeed("1234"), again = sampleWithSeed("1234"), other = sampleWithSeed("99");
  EXPECT_EQ(first["object"], "text_completion");
  EXPECT_EQ(first["model"], "granite-test"); // the program's file name
  EXPECT_EQ(first["choices"][0]["text"], again["choices"][0]["text"]);
  EXPECT_NE(first["choices"][0]["text"], other["choices"][0]["text"]);
  EXPECT_EQ(first["seed"], 1234);
  EXPECT_EQ(first["usage"]["completion_tokens"], 16);
  EXPECT_EQ(first["choices"][0]["finish_reason"], "length");
  // -1 is llama.cpp's "random": a fresh seed each run, as without --seed.
  EXPECT_NE(sampleWithSeed("-1")["seed"], sampleWithSeed("-1")["seed"]);
}

TEST(Cli, AcceptsLlamaCppAndUnixConventions) {
  CliOptions o = parseCliOptions({"-p", "x", "-t", "3", "-c", "100", "--temp=0.5", "--seed=7", "--stop=END", "--"});
  EXPECT_EQ(o.threads, 3);
  EXPECT_EQ(o.contextSize, 100);
  EXPECT_EQ(o.sampling.temperature, 0.5f);
  EXPECT_TRUE(o.seedGiven);
  EXPECT_EQ(o.sampling.seed, 7u);
  EXPECT_EQ(o.stopStrings, std::vector<std::string>{"END"});
  EXPECT_EQ(parseCliOptions({"--ctx-size=64", "--prompt=--not-a-flag"}).prompt, "--not-a-flag");
  EXPECT_FALSE(parseCliOptions({"-p", "x", "--seed", "5", "--seed", "-1"}).seedGiven);
  EXPECT_EQ(parseCliOptions({"-p", "-"}).promptFile, "-");
  EXPECT_FALSE(parseCliOptions({"-p", "-"}).prompt);
  CliOptions serve = parseCliOptions(
      {"--serve", "--host", "0.0.0.0", "--port=0", "--api-key", "k", "--state-cache-mb", "0", "--temp", "0.8"});
  EXPECT_TRUE(serve.serve);
  EXPECT_EQ(serve.host, "0.0.0.0");
  EXPECT_EQ(serve.port, 0);
  EXPECT_EQ(serve.apiKey, "k");
  EXPECT_EQ(serve.stateCacheMb, 0);
  EXPECT_EQ(parseCliOptions({"--chat", "--state-cache-mb", "16"}).stateCacheMb, 16);
}

TEST(Cli, BadConventionsAreOneLineAndStatusTwo) {
  const std::string kNotForServe =
      "-n, --stop, --seed, --json, --special and --raw-bytes do not apply to --serve (requests set max_tokens, stop "
      "and seed)";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--chat=1"}, "--chat takes no value"},
      {{"--bogus=1"}, "unknown option '--bogus' (see --help)"},
      {{"-p", "x", "--", "--chat"}, "unexpected argument '--chat' (see --help)"},
      {{"-p", "x", "extra"}, "unexpected argument 'extra' (see --help)"},
      {{"--temp=", "-p", "x"}, "--temp expects a number, got ''"},
      {{"-c", "0", "-p", "x"}, "-c must be at least 1"},
      {{"-t", "many", "-p", "x"}, "-t expects a number, got 'many'"},
      {{"--seed", "-2", "-p", "x"}, "--seed expects a number, got '-2'"},
      {{"-p", "x", "-f", "y"}, "-p and -f cannot be combined"},
      {{"--chat", "-p", "-"}, "--chat reads its turns from stdin; give the first one with -p TEXT or -f FILE"},
      {{"--serve", "--port", "70000"}, "--port must be between 0 and 65535, got '70000'"},
      {{"--serve", "--port", "-1"}, "--port must be between 0 and 65535, got '-1'"},
      {{"--serve", "-p", "x"}, "-p and --serve cannot be combined"},
      {{"--serve", "--chat"}, "--chat and --serve cannot be combined"},
      {{"--tokenize", "x", "--serve", "--info"}, "--tokenize, --serve and --info cannot be combined"},
      {{"--serve", "-n", "5"}, kNotForServe},
      {{"--serve", "--json"}, kNotForServe},
      {{"--serve", "--seed", "3"}, kNotForServe},
      {{"--serve", "--api-key", ""}, "--api-key expects a non-empty key"},
      {{"-p", "x", "--host", "0.0.0.0"}, "--host, --port, --api-key and --max-queue need --serve"},
      {{"--chat", "--port", "8080"}, "--host, --port, --api-key and --max-queue need --serve"},
      {{"-p", "x", "--state-cache-mb", "8"}, "--state-cache-mb needs --chat or --serve"},
      {{"--chat", "--state-cache-mb", "-1"}, "--state-cache-mb must be at least 0"},
      {{"-c", "64"},
       "nothing to do: give -p TEXT, -f FILE, --chat, --serve, --tokenize, --detokenize, --ids, "
       "--bench, --info or --version (see --help)"},
  };
  for (const auto &[args, message] : cases) {
    CliRun run = runWith(args);
    EXPECT_EQ(run.status, 2) << message;
    EXPECT_EQ(run.err, "granite-test: " + message + "\n");
    EXPECT_EQ(run.out, "");
  }
}

TEST(Cli, PromptFromStdinOrAFile) {
  ScriptedModel fromStdin(kGraniteVocabularySize, {replyIds(" jumps.")}, kGraniteEndOfTextId);
  CliRun piped = runWith({"-p", "-"}, "The quick\nbrown fox\n", &fromStdin);
  ASSERT_EQ(piped.status, 0) << piped.err;
  EXPECT_EQ(piped.out, " jumps.\n");
  // The one final newline is dropped, the inner one kept.
  EXPECT_EQ(fromStdin.promptCalls.at(0), graniteTokenizer().encode("The quick\nbrown fox", false));

  const std::string path = std::string(GRANITE_BIN_DIR) + "/cli-test-prompt.txt";
  std::ofstream(path) << "Once upon\n\n";
  ScriptedModel fromFile(kGraniteVocabularySize, {replyIds(" a time")}, kGraniteEndOfTextId);
  CliRun file = runWith({"-f", path, "--json"}, "not read", &fromFile);
  ASSERT_EQ(file.status, 0) << file.err;
  EXPECT_EQ(jsonLines(file.out).at(0)["choices"][0]["text"], " a time");
  EXPECT_EQ(fromFile.promptCalls.at(0), graniteTokenizer().encode("Once upon\n", false));

  // With --chat, the file is the first turn and stdin holds the rest.
  ScriptedModel chat(kGraniteVocabularySize, {replyIds("Hi."), replyIds("Bye.")}, kGraniteEndOfTextId);
  CliRun chatRun = runWith({"--chat", "--file", path}, "Second\n", &chat);
  ASSERT_EQ(chatRun.status, 0) << chatRun.err;
  EXPECT_EQ(chatRun.out, "Hi.\nBye.\n");
  EXPECT_EQ(chat.promptCalls.at(0),
            chatPrompt(nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Once upon\n"}])")));

  CliRun missing = runWith({"-f", "/nonexistent/prompt.txt"}, "", &fromFile);
  EXPECT_EQ(missing.status, 2);
  EXPECT_EQ(missing.err, "granite-test: -f: cannot open '/nonexistent/prompt.txt'\n");
}

TEST(Cli, ThePromptGoesToStderrAndOnlyForATerminal) {
  ScriptedModel typed(kGraniteVocabularySize, {replyIds("Hello!")}, kGraniteEndOfTextId);
  CliRun terminal = runWith({"--chat"}, "Hi\n", &typed, /*interactive=*/true);
  ASSERT_EQ(terminal.status, 0) << terminal.err;
  EXPECT_EQ(terminal.out, "Hello!\n");
  EXPECT_EQ(terminal.err, "> > "); // before the turn, and before the end of input
  ScriptedModel piped(kGraniteVocabularySize, {replyIds("Hello!")}, kGraniteEndOfTextId);
  CliRun pipe = runWith({"--chat"}, "Hi\n", &piped);
  EXPECT_EQ(pipe.out, "Hello!\n");
  EXPECT_EQ(pipe.err, "");
}

TEST(Cli, ChatResumesFromTheStateCacheAfterAReplyCutAtAStopString) {
  const std::vector<int32_t> firstPrompt =
      chatPrompt(nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Go"}])"));
  auto cachedTokensOfSecondTurn = [](std::vector<std::string> args) {
    SnapshotScriptedModel model(kGraniteVocabularySize, {replyIds("alpha END beta"), replyIds("ok")},
                                kGraniteEndOfTextId);
    args.insert(args.end(), {"--chat", "--json", "--stop", " END beta"});
    CliRun run = runWith(args, "Go\nAgain\n", &model);
    EXPECT_EQ(run.status, 0) << run.err;
    std::vector<nlohmann::json> replies = jsonLines(run.out);
    EXPECT_EQ(replies.size(), 2u);
    EXPECT_EQ(content(replies.at(0)), "alpha");
    EXPECT_EQ(replies.at(0)["stop_reason"], "stop_string");
    return replies.at(1)["usage"]["prompt_tokens_details"]["cached_tokens"].get<size_t>();
  };
  // The history holds "alpha", but the model was fed " END" too before " beta" completed the stop string: the
  // second prompt does not extend what the model holds, and only the snapshot after the first prompt helps.
  EXPECT_EQ(cachedTokensOfSecondTurn({}), firstPrompt.size());
  EXPECT_EQ(cachedTokensOfSecondTurn({"--state-cache-mb", "0"}), 0u);
}

TEST(Cli, AFullChatDropsItsOldestExchangesButKeepsTheSystemMessage) {
  using Json = nlohmann::ordered_json;
  const Json system = {{"role", "system"}, {"content", "Be brief."}};
  auto user = [](const char *text) { return Json{{"role", "user"}, {"content", text}}; };
  auto assistant = [](const char *text) { return Json{{"role", "assistant"}, {"content", text}}; };
  const std::vector<int32_t> full =
      chatPrompt(Json::array({system, user("First question"), assistant("One."), user("Second question"),
                              assistant("Two."), user("Third question")}));
  const std::vector<int32_t> dropped =
      chatPrompt(Json::array({system, user("Second question"), assistant("Two."), user("Third question")}));
  // -n 4 asks room for 4 reply tokens: the whole third prompt misses it by one, without the first exchange it fits.
  ScriptedModel model(kGraniteVocabularySize, {replyIds("One."), replyIds("Two."), replyIds("Three.")},
                      kGraniteEndOfTextId);
  model.contextLength_ = static_cast<int32_t>(full.size()) + 4 - 1;
  ASSERT_LE(dropped.size() + 4, full.size());
  CliRun run = runWith({"--chat", "--system", "Be brief.", "-n", "4"},
                       "First question\nSecond question\nThird question\n", &model);
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, "One.\nTwo.\nThree.\n");
  EXPECT_EQ(run.err, "granite-test: the chat fills the context of " + std::to_string(model.contextLength_) +
                         " positions: dropped its oldest exchange\n");
  ASSERT_EQ(model.promptCalls.size(), 3u);
  EXPECT_EQ(model.held.size() >= dropped.size() && std::equal(dropped.begin(), dropped.end(), model.held.begin()), true)
      << "the third turn is the conversation without its first exchange, from the start";
}

TEST(Cli, AChatTurnTooLongForTheContextIsSkipped) {
  using Json = nlohmann::ordered_json;
  const std::vector<int32_t> shortTurn = chatPrompt(Json::array({{{"role", "user"}, {"content", "Hi"}}}));
  ScriptedModel model(kGraniteVocabularySize, {replyIds("Hello!")}, kGraniteEndOfTextId);
  model.contextLength_ = static_cast<int32_t>(shortTurn.size()) + 16;
  std::string longTurn;
  for (int i = 0; i < 40; ++i) longTurn += "word ";
  CliRun run = runWith({"--chat"}, longTurn + "\nHi\n", &model);
  EXPECT_EQ(run.status, 1) << "a skipped turn is an error, reported at the end";
  EXPECT_EQ(run.out, "Hello!\n");
  const size_t longTokens = chatPrompt(Json::array({{{"role", "user"}, {"content", longTurn}}})).size();
  EXPECT_EQ(run.err, "granite-test: error: this message does not fit the context: " + std::to_string(longTokens) +
                         " tokens with the chat template, the context holds " + std::to_string(model.contextLength_) +
                         "; it was skipped\n");
  ASSERT_EQ(model.promptCalls.size(), 1u);
  EXPECT_EQ(model.promptCalls[0], shortTurn) << "the skipped turn is not part of the conversation";
}

TEST(Cli, JsonSchemaConstrainsTheReplyOrIsAOneLineError) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string &name, const std::string &text) {
    std::ofstream(dir + name) << text;
    return dir + name;
  };
  // The scripted reply is prose; the schema leaves only "yes" or "no", then the end of the text.
  const std::string schema = write("yes-no.json", R"({"enum": ["yes", "no"]})");
  ScriptedModel model(kGraniteVocabularySize, {replyIds("alpha beta gamma")}, kGraniteEndOfTextId);
  CliRun run = runWith({"-p", "x", "--json-schema", schema, "--json"}, "", &model);
  ASSERT_EQ(run.status, 0) << run.err;
  nlohmann::json reply = nlohmann::json::parse(run.out);
  const std::string text = reply["choices"][0]["text"];
  EXPECT_TRUE(text == "\"yes\"" || text == "\"no\"") << text;
  EXPECT_EQ(reply["incomplete"], false);

  CliRun bad = runWith({"-p", "x", "--json-schema", write("bad.json", R"({"type": "string", "format": "uri"})")});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err, "granite-test: --json-schema: unsupported JSON Schema keyword 'format' (at the root)\n");
  EXPECT_EQ(runWith({"--serve", "--json-schema", schema}).err,
            "granite-test: --json-schema needs -p, -f or --chat (server requests give response_format instead)\n");
}

} // namespace
} // namespace granite::runtime::testing
