#include "runtime/Cli.h"

#include "runtime/ChatTemplate.h"
#include "runtime/CliOptions.h"
#include "runtime/Generator.h"
#include "runtime/InterruptGuard.h"
#include "runtime/JsonSchema.h"
#include "runtime/OpenAiResponse.h"
#include "runtime/Server.h"
#include "runtime/StateCache.h"
#include "runtime/Utf8.h"
#include "runtime/VocabularyTrieBlob.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <unistd.h>

namespace granite::runtime {
namespace {

using Json = nlohmann::ordered_json;

Json loadTools(const std::string &path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--tools: cannot open '" + path + "'");
  Json tools = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (tools.is_discarded()) throw UsageError("--tools: '" + path + "' is not valid JSON");
  if (!tools.is_array()) throw UsageError("--tools: '" + path + "' must hold a JSON array of tools");
  return tools;
}

/// The text of -f FILE, or of stdin for "-". One final newline is dropped, as llama.cpp's -f does: files and piped
/// text end with one that is not part of the prompt.
std::string readPromptFile(const std::string &path, std::istream &in) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw UsageError("-f: cannot open '" + path + "'");
    text.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::shared_ptr<const JsonGrammar> loadJsonSchema(const std::string &path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--json-schema: cannot open '" + path + "'");
  Json schema = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) throw UsageError("--json-schema: '" + path + "' is not valid JSON");
  try {
    return compileJsonSchema(schema);
  } catch (const SchemaError &e) {
    throw UsageError("--json-schema: " + std::string(e.what()));
  }
}

/// stdout could not be written: its reader went away (EPIPE, where SIGPIPE is ignored) or the disk is full.
class OutputError : public std::runtime_error {
public:
  explicit OutputError(int error)
      : std::runtime_error(std::string("cannot write the output: ") + std::strerror(error)), error_(error) {}
  int error() const { return error_; }

private:
  int error_;
};

/// Throws OutputError when the last write to `out` failed (errno still holds why).
void checkOutput(const std::ostream &out) {
  if (!out) throw OutputError(errno ? errno : EIO);
}

/// The program's file name without its directory: the model name in --json replies and in the server's responses.
std::string baseName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

class GenerationSession {
public:
  GenerationSession(const CliOptions &options, Tokenizer &tokenizer, const VocabularyTrieSource &tries, Model &model,
                    CliStreams streams, std::string modelName, StateCache *cache)
      : options_(options), tokenizer_(tokenizer), streams_(streams), modelName_(std::move(modelName)),
        seed_(options.seedGiven ? options.sampling.seed : std::random_device{}()),
        generator_(model, tokenizer, withSeed(options.sampling, seed_), cache) {
    limits_.maxTokens = options.maxTokens;
    limits_.stopStrings = options.stopStrings;
    limits_.renderSpecial = options.special;
    limits_.rawBytes = options.rawBytes;
    if (options.jsonSchemaFile) {
      grammar_ = loadJsonSchema(*options.jsonSchemaFile);
      trie_ = tries.get();
    }
  }

  /// Generates, streams (or prints the OpenAI-shaped JSON object: a chat.completion for a chat turn, else a
  /// text_completion) and returns the reply.
  GenerationResult reply(const std::vector<int32_t> &prompt, bool chatTurn) {
    InterruptGuard guard;
    auto stream = [&](std::string_view text) {
      if (options_.json) return;
      streams_.out << text << std::flush;
      checkOutput(streams_.out); // nobody reads the reply any more: stop generating it
    };
    if (grammar_) limits_.constraint = std::make_shared<JsonConstraint>(grammar_, trie_, tokenizer_);
    GenerationResult result = generator_.generate(prompt, limits_, stream, &guard.flag());
    if (options_.json)
      streams_.out << dumpJson(replyJson(result, chatTurn)) << "\n";
    else
      streams_.out << "\n";
    streams_.out.flush();
    checkOutput(streams_.out);
    if (result.incomplete)
      streams_.err << "note: the reply is incomplete JSON (" << stopReasonName(result.stopReason) << ")\n";
    return result;
  }

  /// The chat safety net of spec §5: a new role header also ends the reply.
  void stopAtRoleHeaders() {
    int32_t startOfRole = tokenizer_.findAddedToken("<|start_of_role|>");
    if (startOfRole >= 0) limits_.stopIds.push_back(startOfRole);
  }

private:
  static SamplingParams withSeed(SamplingParams params, uint64_t seed) {
    params.seed = seed;
    return params;
  }

  /// OpenAI's object, plus what only a local run knows: the seed (to repeat a random run), why the reply ended
  /// (finish_reason does not tell an interrupted reply or a full context apart) and the timings.
  Json replyJson(const GenerationResult &result, bool chatTurn) const {
    Json object;
    if (chatTurn) {
      ChatReplyOptions reply;
      reply.renderSpecial = options_.special;
      object = chatCompletionJson(result, tokenizer_, newChatResponseInfo(modelName_), reply);
    } else {
      object = textCompletionJson(result, tokenizer_, newCompletionResponseInfo(modelName_), /*logprobs=*/false,
                                  options_.special);
    }
    double tokensPerSecond = result.generationSeconds > 0 ? result.ids.size() / result.generationSeconds : 0;
    object["seed"] = seed_;
    object["stop_reason"] = stopReasonName(result.stopReason);
    object["timings"] = {{"prompt_ms", result.promptSeconds * 1e3},
                         {"generation_ms", result.generationSeconds * 1e3},
                         {"tokens_per_second", tokensPerSecond}};
    if (grammar_) {
      object["incomplete"] = result.incomplete;
      object["timings"]["mask_ms"] = result.maskSeconds * 1e3;
    }
    return object;
  }

  const CliOptions &options_;
  Tokenizer &tokenizer_;
  CliStreams streams_;
  std::string modelName_;
  uint64_t seed_;
  Generator generator_;
  GenerationLimits limits_;
  std::shared_ptr<const JsonGrammar> grammar_; ///< --json-schema
  std::shared_ptr<const VocabularyTrie> trie_;
};

/// The chat's messages as the model sees them: rendered with the template and tokenized.
class Conversation {
public:
  Conversation(const CliOptions &options, Tokenizer &tokenizer) : tokenizer_(tokenizer), special_(options.special) {
    if (options.system) messages_.push_back({{"role", "system"}, {"content", *options.system}});
    kept_ = messages_.size();
    if (options.toolsFile) tools_ = loadTools(*options.toolsFile);
  }

  void add(const char *role, const std::string &content) {
    messages_.push_back({{"role", role}, {"content", content}});
  }
  void removeNewest() { messages_.erase(messages_.size() - 1); }

  /// The prompt of the whole conversation, ready for the assistant's next reply.
  std::vector<int32_t> prompt() { return encode(messages_); }
  /// The prompt of the system message and the newest message only: what dropping every exchange would leave.
  std::vector<int32_t> shortestPrompt() {
    Json shortest = Json::array();
    for (size_t i = 0; i < kept_; ++i) shortest.push_back(messages_[i]);
    shortest.push_back(messages_.back());
    return encode(shortest);
  }
  /// Drops the oldest user message and the reply to it (never the system message); false when no exchange
  /// precedes the newest message.
  bool dropOldestExchange() {
    if (messages_.size() < kept_ + 3) return false;
    auto first = messages_.begin() + static_cast<std::ptrdiff_t>(kept_);
    messages_.erase(first, first + 2);
    return true;
  }

private:
  std::vector<int32_t> encode(const Json &messages) {
    RenderedChat rendered = renderGraniteChat(messages, tools_, Json(), /*addGenerationPrompt=*/true);
    // What the user typed stays text ("<|start_of_role|>" in a message is not a role switch) unless --special.
    return tokenizer_.encodeTemplate(rendered.text, special_ ? std::vector<TextSpan>{} : rendered.literalSpans);
  }

  Tokenizer &tokenizer_;
  bool special_;
  Json messages_ = Json::array();
  size_t kept_ = 0; ///< leading messages that are never dropped (the system message)
  Json tools_;
};

/// Runs the chat; returns 1 when some turn was skipped (too long for the context), else 0.
int runChat(const CliOptions &options, Tokenizer &tokenizer, const VocabularyTrieSource &tries, Model &model,
            CliStreams streams, const std::string &program) {
  Conversation conversation(options, tokenizer);
  StateCache cache(static_cast<uint64_t>(options.stateCacheMb) << 20);
  GenerationSession session(options, tokenizer, tries, model, streams, baseName(program), &cache);
  session.stopAtRoleHeaders();
  // A turn needs room for its reply after the prompt: -n tokens, or 256 without -n, but at most half the context.
  const int64_t context = model.contextLength();
  const int64_t replyRoom =
      std::min<int64_t>(options.maxTokens >= 0 ? std::max(options.maxTokens, 1) : 256, context / 2);
  int status = 0;
  std::optional<std::string> pending = options.prompt;
  for (;;) {
    std::string line;
    if (pending) {
      line = *pending;
      pending.reset();
    } else {
      if (streams.interactive) streams.err << "> " << std::flush;
      if (!std::getline(streams.in, line)) break;
      if (line.empty()) continue;
    }
    conversation.add("user", line);
    std::vector<int32_t> prompt = conversation.prompt();
    if (context > 0 && static_cast<int64_t>(prompt.size()) + replyRoom > context) {
      const size_t shortest = conversation.shortestPrompt().size();
      if (static_cast<int64_t>(shortest) >= context) {
        streams.err << program << ": error: this message does not fit the context: " << shortest
                    << " tokens with the chat template, the context holds " << context << "; it was skipped\n";
        conversation.removeNewest();
        status = 1;
        continue;
      }
      int dropped = 0;
      while (static_cast<int64_t>(prompt.size()) + replyRoom > context && conversation.dropOldestExchange()) {
        ++dropped;
        prompt = conversation.prompt();
      }
      if (dropped)
        streams.err << program << ": the chat fills the context of " << context << " positions: dropped its "
                    << (dropped == 1 ? "oldest exchange" : std::to_string(dropped) + " oldest exchanges") << "\n";
    }
    GenerationResult result = session.reply(prompt, /*chatTurn=*/true);
    // The reply goes into the history as printed (tool-call blocks included), so the next render usually extends
    // exactly the tokens the model holds; where it does not (U+FFFD in place of bytes that formed no character), the
    // state cache resumes from the snapshot taken after this turn's prompt.
    conversation.add("assistant", result.text);
  }
  return status;
}

int serve(const CliOptions &options, Tokenizer &tokenizer, const VocabularyTrieSource &tries, Model &model,
          CliStreams streams, const std::string &program) {
  ServerOptions server;
  server.host = options.host;
  server.port = options.port;
  const char *environmentKey = std::getenv("GRANITE_API_KEY");
  server.apiKey = options.apiKey ? *options.apiKey : environmentKey ? environmentKey : "";
  server.modelName = baseName(program);
  server.defaults = options.sampling;
  server.maxQueue = options.maxQueue;
  StateCache cache(static_cast<uint64_t>(options.stateCacheMb) << 20);
  return runServer(server, tokenizer, tries, model, cache, streams.err);
}

int run(CliOptions options, Tokenizer &tokenizer, const VocabularyTrieSource &tries, const ModelLoader &loadModel,
        CliStreams streams, const std::string &program) {
  if (options.tokenize) {
    std::vector<int32_t> ids = tokenizer.encode(*options.tokenize, options.special);
    for (size_t i = 0; i < ids.size(); ++i) streams.out << (i ? " " : "") << ids[i];
    streams.out << "\n";
    return 0;
  }
  if (options.detokenize) {
    std::string bytes = tokenizer.decode(parseIdList("--detokenize", *options.detokenize), options.special);
    streams.out << (options.rawBytes ? bytes : toValidUtf8(bytes));
    return 0;
  }
  if (options.compiledModelMode())
    throw UsageError("--ids, --bench, --info and --version need a compiled model executable");
  if (options.promptFile) options.prompt = readPromptFile(*options.promptFile, streams.in);
  if (options.jsonSchemaFile) loadJsonSchema(*options.jsonSchemaFile); // a bad schema fails before the weights load
  std::unique_ptr<Model> model = loadModel();
  if (options.serve) return serve(options, tokenizer, tries, *model, streams, program);
  if (options.chat) return runChat(options, tokenizer, tries, *model, streams, program);
  GenerationSession session(options, tokenizer, tries, *model, streams, baseName(program), /*cache=*/nullptr);
  session.reply(tokenizer.encode(*options.prompt, options.special), /*chatTurn=*/false);
  return 0;
}

} // namespace

int runCli(const std::string &programName, const std::vector<std::string> &args, Tokenizer &tokenizer,
           const ModelLoader &loadModel, CliStreams streams, std::string_view trieBlob) {
  // Messages are valid UTF-8 too, though they quote what was typed and the program's file name.
  const std::string program = toValidUtf8(programName);
  try {
    CliOptions options = parseCliOptions(args);
    int status = 0;
    if (options.help)
      streams.out << cliHelp(program);
    else
      status = run(options, tokenizer, VocabularyTrieSource(tokenizer, trieBlob), loadModel, streams, program);
    streams.out.flush();
    checkOutput(streams.out);
    return status;
  } catch (const UsageError &e) {
    streams.err << program << ": " << toValidUtf8(e.what()) << "\n";
    return 2;
  } catch (const OutputError &e) {
    if (e.error() == EPIPE) return 0; // the reader went away (`| head`): nothing to report, nothing left to do
    streams.err << program << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception &e) {
    streams.err << program << ": error: " << toValidUtf8(e.what()) << "\n";
    return 1;
  }
}

int runCliMain(int argc, char **argv, Tokenizer &tokenizer, const ModelLoader &loadModel, std::string_view trieBlob) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string program = argc > 0 ? argv[0] : "granite";
  return runCli(program, args, tokenizer, loadModel, {std::cin, std::cout, std::cerr, isatty(0) != 0}, trieBlob);
}

} // namespace granite::runtime
