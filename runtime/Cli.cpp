#include "runtime/Cli.h"

#include "runtime/ChatTemplate.h"
#include "runtime/CliOptions.h"
#include "runtime/Generator.h"
#include "runtime/InterruptGuard.h"
#include "runtime/ToolCalls.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
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

Json replyJson(const GenerationResult &result, uint64_t seed) {
  ParsedReply parsed = parseToolCalls(result.text);
  Json calls = Json::array();
  for (const ToolCall &call : parsed.toolCalls) calls.push_back(toolCallJson(call));
  double tokensPerSecond = result.generationSeconds > 0 ? result.ids.size() / result.generationSeconds : 0;
  return Json{{"text", result.text},
              {"content", parsed.content},
              {"tool_calls", calls},
              {"tool_call_errors", parsed.errors},
              {"stop_reason", stopReasonName(result.stopReason)},
              {"prompt_tokens", result.promptTokens},
              {"evaluated_prompt_tokens", result.evaluatedPromptTokens},
              {"completion_tokens", result.ids.size()},
              {"seed", seed},
              {"timings",
               {{"prompt_ms", result.promptSeconds * 1e3},
                {"generation_ms", result.generationSeconds * 1e3},
                {"tokens_per_second", tokensPerSecond}}}};
}

class GenerationSession {
public:
  GenerationSession(const CliOptions &options, Tokenizer &tokenizer, Model &model, CliStreams streams)
      : options_(options), tokenizer_(tokenizer), streams_(streams),
        seed_(options.seedGiven ? options.sampling.seed : std::random_device{}()),
        generator_(model, tokenizer, withSeed(options.sampling, seed_)) {
    limits_.maxTokens = options.maxTokens;
    limits_.stopStrings = options.stopStrings;
    limits_.renderSpecial = options.special;
  }

  /// Generates, streams (or prints the JSON object) and returns the reply.
  GenerationResult reply(const std::vector<int32_t> &prompt) {
    InterruptGuard guard;
    auto stream = [&](std::string_view text) {
      if (!options_.json) streams_.out << text << std::flush;
    };
    GenerationResult result = generator_.generate(prompt, limits_, stream, &guard.flag());
    if (options_.json)
      streams_.out << replyJson(result, seed_).dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
    else
      streams_.out << "\n";
    streams_.out.flush();
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

  const CliOptions &options_;
  Tokenizer &tokenizer_;
  CliStreams streams_;
  uint64_t seed_;
  Generator generator_;
  GenerationLimits limits_;
};

void runChat(const CliOptions &options, Tokenizer &tokenizer, Model &model, CliStreams streams) {
  Json messages = Json::array();
  if (options.system) messages.push_back({{"role", "system"}, {"content", *options.system}});
  Json tools = options.toolsFile ? loadTools(*options.toolsFile) : Json();
  GenerationSession session(options, tokenizer, model, streams);
  session.stopAtRoleHeaders();

  std::optional<std::string> pending = options.prompt;
  for (;;) {
    std::string line;
    if (pending) {
      line = *pending;
      pending.reset();
    } else {
      if (streams.interactive) streams.out << "> " << std::flush;
      if (!std::getline(streams.in, line)) break;
      if (line.empty()) continue;
    }
    messages.push_back({{"role", "user"}, {"content", line}});
    RenderedChat rendered = renderGraniteChat(messages, tools, Json(), /*addGenerationPrompt=*/true);
    // What the user typed stays text ("<|start_of_role|>" in a message is not a role switch) unless --special.
    GenerationResult result = session.reply(tokenizer.encodeTemplate(
        rendered.text, options.special ? std::vector<TextSpan>{} : rendered.literalSpans));
    // The reply goes into the history as generated (tool-call blocks included), so the next render reproduces
    // exactly the tokens the model saw.
    messages.push_back({{"role", "assistant"}, {"content", result.text}});
  }
}

int run(const CliOptions &options, Tokenizer &tokenizer, const ModelLoader &loadModel, CliStreams streams) {
  if (options.tokenize) {
    std::vector<int32_t> ids = tokenizer.encode(*options.tokenize, options.special);
    for (size_t i = 0; i < ids.size(); ++i) streams.out << (i ? " " : "") << ids[i];
    streams.out << "\n";
    return 0;
  }
  if (options.detokenize) {
    streams.out << tokenizer.decode(parseIdList("--detokenize", *options.detokenize), options.special);
    return 0;
  }
  if (options.compiledModelMode()) throw UsageError("--ids, --bench and --info need a compiled model executable");
  std::unique_ptr<Model> model = loadModel();
  if (options.chat) {
    runChat(options, tokenizer, *model, streams);
    return 0;
  }
  GenerationSession session(options, tokenizer, *model, streams);
  session.reply(tokenizer.encode(*options.prompt, options.special));
  return 0;
}

} // namespace

int runCli(const std::string &programName, const std::vector<std::string> &args, Tokenizer &tokenizer,
           const ModelLoader &loadModel, CliStreams streams) {
  try {
    CliOptions options = parseCliOptions(args);
    if (options.help) {
      streams.out << cliHelp(programName);
      return 0;
    }
    return run(options, tokenizer, loadModel, streams);
  } catch (const UsageError &e) {
    streams.err << programName << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    streams.err << programName << ": error: " << e.what() << "\n";
    return 1;
  }
}

int runCliMain(int argc, char **argv, Tokenizer &tokenizer, const ModelLoader &loadModel) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string program = argc > 0 ? argv[0] : "granite";
  return runCli(program, args, tokenizer, loadModel, {std::cin, std::cout, std::cerr, isatty(0) != 0});
}

} // namespace granite::runtime
