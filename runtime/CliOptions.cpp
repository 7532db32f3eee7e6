#include "runtime/CliOptions.h"

#include <charconv>
#include <cmath>
#include <functional>
#include <map>

namespace granite::runtime {
namespace {

template <typename T> T parseNumber(const std::string &flag, const std::string &text) {
  T value{};
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end)
    throw UsageError(flag + " expects a number, got '" + text + "'");
  return value;
}

float parseFloat(const std::string &flag, const std::string &text) {
  float value = parseNumber<float>(flag, text);
  if (!std::isfinite(value)) throw UsageError(flag + " expects a finite number, got '" + text + "'");
  return value;
}

int32_t parseCount(const std::string &flag, const std::string &text, int32_t minimum) {
  int32_t value = parseNumber<int32_t>(flag, text);
  if (value < minimum) throw UsageError(flag + " must be at least " + std::to_string(minimum));
  return value;
}

} // namespace

std::vector<int32_t> parseIdList(const std::string &flag, const std::string &text) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t first = item.find_first_not_of(' '), last = item.find_last_not_of(' ');
    item = first == std::string::npos ? "" : item.substr(first, last - first + 1);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 9)
      throw UsageError(flag + " expects comma-separated token ids, got '" + item + "'");
    ids.push_back(std::stoi(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return ids;
}

CliOptions parseCliOptions(const std::vector<std::string> &args) {
  CliOptions o;
  using Handler = std::function<void(const std::string &flag, const std::string &value)>;
  const std::map<std::string, Handler> withValue = {
      {"-p", [&](auto &, auto &v) { o.prompt = v; }},
      {"--prompt", [&](auto &, auto &v) { o.prompt = v; }},
      {"--system", [&](auto &, auto &v) { o.system = v; }},
      {"--tools", [&](auto &, auto &v) { o.toolsFile = v; }},
      {"--tokenize", [&](auto &, auto &v) { o.tokenize = v; }},
      {"--detokenize", [&](auto &, auto &v) { o.detokenize = v; }},
      {"-n", [&](auto &f, auto &v) { o.maxTokens = parseNumber<int32_t>(f, v); }},
      {"--max-tokens", [&](auto &f, auto &v) { o.maxTokens = parseNumber<int32_t>(f, v); }},
      {"--stop", [&](auto &f, auto &v) {
         if (v.empty()) throw UsageError(f + " expects a non-empty string");
         o.stopStrings.push_back(v);
       }},
      {"--temp", [&](auto &f, auto &v) { o.sampling.temperature = parseFloat(f, v); }},
      {"--top-k", [&](auto &f, auto &v) { o.sampling.topK = parseNumber<int32_t>(f, v); }},
      {"--top-p", [&](auto &f, auto &v) { o.sampling.topP = parseFloat(f, v); }},
      {"--min-p", [&](auto &f, auto &v) { o.sampling.minP = parseFloat(f, v); }},
      {"--repeat-penalty", [&](auto &f, auto &v) {
         o.sampling.repeatPenalty = parseFloat(f, v);
         if (o.sampling.repeatPenalty <= 0) throw UsageError(f + " must be positive");
       }},
      {"--repeat-last-n", [&](auto &f, auto &v) { o.sampling.penaltyWindow = parseNumber<int32_t>(f, v); }},
      {"--presence-penalty", [&](auto &f, auto &v) { o.sampling.presencePenalty = parseFloat(f, v); }},
      {"--frequency-penalty", [&](auto &f, auto &v) { o.sampling.frequencyPenalty = parseFloat(f, v); }},
      {"--seed", [&](auto &f, auto &v) {
         o.sampling.seed = parseNumber<uint64_t>(f, v);
         o.seedGiven = true;
       }},
      {"--ids", [&](auto &f, auto &v) {
         o.ids = parseIdList(f, v);
         if (o.ids->empty()) throw UsageError(f + " expects at least one token id");
       }},
      {"--logits", [&](auto &, auto &v) { o.logitsFile = v; }},
      {"--greedy", [&](auto &f, auto &v) { o.greedy = parseCount(f, v, 1); }},
      {"--gen-logits", [&](auto &, auto &v) { o.genLogitsFile = v; }},
      {"--chunk", [&](auto &f, auto &v) { o.chunk = parseCount(f, v, 1); }},
      {"--bench-prompt", [&](auto &f, auto &v) { o.benchPrompt = parseCount(f, v, 1); }},
      {"--bench-gen", [&](auto &f, auto &v) { o.benchGen = parseCount(f, v, 1); }},
      {"--threads", [&](auto &f, auto &v) { o.threads = parseCount(f, v, 1); }},
  };
  const std::map<std::string, bool *> switches = {
      {"-h", &o.help}, {"--help", &o.help}, {"--chat", &o.chat}, {"--json", &o.json}, {"--special", &o.special},
      {"--bench", &o.bench}, {"--info", &o.info}, {"--mmap", &o.mmap}};

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (auto s = switches.find(arg); s != switches.end()) {
      *s->second = true;
      continue;
    }
    auto handler = withValue.find(arg);
    if (handler == withValue.end())
      throw UsageError(arg.size() > 1 && arg[0] == '-' ? "unknown option '" + arg + "' (see --help)"
                                                       : "unexpected argument '" + arg + "' (see --help)");
    if (i + 1 == args.size()) throw UsageError(arg + " expects a value");
    handler->second(arg, args[++i]);
  }
  if (o.help) return o;
  int modes = (o.tokenize ? 1 : 0) + (o.detokenize ? 1 : 0) + (o.chat || o.prompt ? 1 : 0) + (o.ids ? 1 : 0) +
              (o.bench ? 1 : 0) + (o.info ? 1 : 0);
  if (modes == 0)
    throw UsageError("nothing to do: give -p TEXT, --chat, --tokenize, --detokenize, --ids, --bench or --info "
                     "(see --help)");
  if (modes > 1)
    throw UsageError("--tokenize, --detokenize, generation (-p/--chat), --ids, --bench and --info cannot be combined");
  if (!o.chat && (o.system || o.toolsFile)) throw UsageError("--system and --tools need --chat");
  if (!o.ids && (o.logitsFile || o.greedy || o.genLogitsFile)) throw UsageError("--logits and --greedy need --ids");
  if (o.genLogitsFile && !o.greedy) throw UsageError("--gen-logits needs --greedy");
  if (o.chunk && !o.ids && !o.bench) throw UsageError("--chunk needs --ids or --bench");
  if ((o.benchPrompt || o.benchGen) && !o.bench) throw UsageError("--bench-prompt and --bench-gen need --bench");
  return o;
}

std::string cliHelp(const std::string &program) {
  return "usage: " + program + R"( [options]

Runs the Granite 4.0 model compiled into this executable.

Modes (exactly one):
  -p, --prompt TEXT        complete TEXT as is (no chat template) and print the continuation
  --chat                   chat: each line read from stdin is a user turn; works with a pipe. With -p, TEXT is the
                           first turn. The whole conversation is kept. Ctrl-C stops the current reply only.
  --tokenize TEXT          print TEXT's token ids, space-separated, on one line
  --detokenize IDS         print the exact text of comma-separated ids (e.g. 1,2,3), nothing added
  --ids IDS                run the model on comma-separated token ids (no BOS, no tokenizer); the output comes
                           from --logits and --greedy
  --bench                  measure prefill and decode tokens/s, the machine's read bandwidth, peak RSS and
                           the time to the first token (docs/runtime.md)
  --info                   print what was compiled: variant, target, context, weight types, build id
  -h, --help               print this help

Chat:
  --system TEXT            system prompt (otherwise Granite's default one, unless tools are given)
  --tools FILE.json        a JSON array of OpenAI-style tools the model may call

Output:
  --json                   one JSON object per reply instead of streamed text: text, tool_calls,
                           tool_call_errors, stop_reason, prompt_tokens, completion_tokens, seed, timings
  --special                in --tokenize and -p text, special-token text (e.g. <|end_of_text|>) becomes one
                           id; in --detokenize and replies, control tokens are printed

Sampling (llama.cpp semantics, applied in this order):
  --repeat-penalty X       divide positive / multiply negative logits of recent tokens (default 1 = off)
  --repeat-last-n N        how many recent tokens the penalties see (default 64, 0 = off)
  --presence-penalty X     subtract X from recent tokens' logits (default 0)
  --frequency-penalty X    subtract X per recent occurrence (default 0)
  --top-k N                keep the N most likely tokens (default 40, 0 = off)
  --top-p X                keep the smallest set with probability mass X (default 0.95, 1 = off)
  --min-p X                keep tokens with at least X times the top probability (default 0.05, 0 = off)
  --temp X                 temperature (default 0 = greedy, as IBM recommends for Granite)
  --seed N                 random seed; the same seed gives the same output (default: random)
  -n, --max-tokens N       stop after N tokens (default -1: at <|end_of_text|> or a full context)
  --stop TEXT              stop before TEXT (repeatable; TEXT is not printed)

Compiled model checks:
  --logits FILE            with --ids: write the logits after each prompt token, as computed and divided by the
                           logit scale: raw little-endian f32 [prompt][vocab]
  --greedy N               with --ids: then decode N tokens greedily, one per step, and print their ids on one
                           line: the argmax as llama.cpp takes it, but never a padding row past the tokenizer
  --gen-logits FILE        with --greedy: the logits each decoded token was chosen from, [N][vocab]
  --chunk K                feed the prompt in pieces of at most K tokens (also with --bench)
  --bench-prompt N         with --bench: prompt tokens to prefill (default 512, or 3/4 of a shorter context)
  --bench-gen N            with --bench: tokens to decode (default 128, or what a shorter context leaves)

Performance:
  --threads N              threads that run the kernels (default: the compiled default, else one per CPU)
  --mmap                   read the weights where the executable is mapped instead of copying them into huge
                           pages at start-up: a faster start and less memory, a slower decode (about 10%)

Exit status: 0 success, 1 runtime error, 2 bad command line.
)";
}

} // namespace granite::runtime
