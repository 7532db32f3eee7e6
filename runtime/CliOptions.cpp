#include "runtime/CliOptions.h"

#include "runtime/Utf8.h"

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
  if (text.empty() || ec != std::errc() || ptr != end) throw UsageError(flag + " expects a number, got '" + text + "'");
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
  // -p and -f both give the prompt; the last of one flag wins, but mixing the two is a mistake.
  std::string promptFlag;
  bool serverFlagGiven = false, stateCacheGiven = false;
  auto setPrompt = [&](const std::string &flag, const std::string &value, bool fromFile) {
    if (!promptFlag.empty() && promptFlag != flag) throw UsageError("-p and -f cannot be combined");
    promptFlag = flag;
    o.prompt.reset();
    o.promptFile.reset();
    if (fromFile || value == "-")
      o.promptFile = value;
    else
      o.prompt = value;
  };
  using Handler = std::function<void(const std::string &flag, const std::string &value)>;
  const Handler prompt = [&](auto &, auto &v) { setPrompt("-p", v, false); };
  const Handler file = [&](auto &, auto &v) { setPrompt("-f", v, true); };
  const Handler maxTokens = [&](auto &f, auto &v) { o.maxTokens = parseNumber<int32_t>(f, v); };
  const Handler threads = [&](auto &f, auto &v) { o.threads = parseCount(f, v, 1); };
  const Handler contextSize = [&](auto &f, auto &v) { o.contextSize = parseCount(f, v, 1); };
  const std::map<std::string, Handler> withValue = {
      {"-p", prompt},
      {"--prompt", prompt},
      {"-f", file},
      {"--file", file},
      {"--system", [&](auto &, auto &v) { o.system = v; }},
      {"--tools", [&](auto &, auto &v) { o.toolsFile = v; }},
      {"--json-schema", [&](auto &, auto &v) { o.jsonSchemaFile = v; }},
      {"--tokenize", [&](auto &, auto &v) { o.tokenize = v; }},
      {"--detokenize", [&](auto &, auto &v) { o.detokenize = v; }},
      {"-n", maxTokens},
      {"--max-tokens", maxTokens},
      {"--stop",
       [&](auto &f, auto &v) {
         if (v.empty()) throw UsageError(f + " expects a non-empty string");
         o.stopStrings.push_back(v);
       }},
      {"--temp", [&](auto &f, auto &v) { o.sampling.temperature = parseFloat(f, v); }},
      {"--top-k", [&](auto &f, auto &v) { o.sampling.topK = parseNumber<int32_t>(f, v); }},
      {"--top-p", [&](auto &f, auto &v) { o.sampling.topP = parseFloat(f, v); }},
      {"--min-p", [&](auto &f, auto &v) { o.sampling.minP = parseFloat(f, v); }},
      {"--repeat-penalty",
       [&](auto &f, auto &v) {
         o.sampling.repeatPenalty = parseFloat(f, v);
         if (o.sampling.repeatPenalty <= 0) throw UsageError(f + " must be positive");
       }},
      {"--repeat-last-n", [&](auto &f, auto &v) { o.sampling.penaltyWindow = parseNumber<int32_t>(f, v); }},
      {"--presence-penalty", [&](auto &f, auto &v) { o.sampling.presencePenalty = parseFloat(f, v); }},
      {"--frequency-penalty", [&](auto &f, auto &v) { o.sampling.frequencyPenalty = parseFloat(f, v); }},
      {"--seed",
       [&](auto &f, auto &v) {
         // -1 is llama.cpp's spelling of "random", the same as leaving the flag out.
         o.seedGiven = v != "-1";
         if (o.seedGiven) o.sampling.seed = parseNumber<uint64_t>(f, v);
       }},
      {"-c", contextSize},
      {"--ctx-size", contextSize},
      {"--state-cache-mb",
       [&](auto &f, auto &v) {
         o.stateCacheMb = parseCount(f, v, 0);
         stateCacheGiven = true;
       }},
      {"--host",
       [&](auto &f, auto &v) {
         if (v.empty()) throw UsageError(f + " expects a host name or address");
         o.host = v;
         serverFlagGiven = true;
       }},
      {"--port",
       [&](auto &f, auto &v) {
         o.port = parseNumber<int32_t>(f, v);
         if (o.port < 0 || o.port > 65535) throw UsageError(f + " must be between 0 and 65535, got '" + v + "'");
         serverFlagGiven = true;
       }},
      {"--max-queue",
       [&](auto &f, auto &v) {
         o.maxQueue = parseCount(f, v, 0);
         serverFlagGiven = true;
       }},
      {"--api-key",
       [&](auto &f, auto &v) {
         if (v.empty()) throw UsageError(f + " expects a non-empty key");
         o.apiKey = v;
         serverFlagGiven = true;
       }},
      {"--ids",
       [&](auto &f, auto &v) {
         o.ids = parseIdList(f, v);
         if (o.ids->empty()) throw UsageError(f + " expects at least one token id");
       }},
      {"--logits", [&](auto &, auto &v) { o.logitsFile = v; }},
      {"--greedy", [&](auto &f, auto &v) { o.greedy = parseCount(f, v, 1); }},
      {"--gen-logits", [&](auto &, auto &v) { o.genLogitsFile = v; }},
      {"--chunk", [&](auto &f, auto &v) { o.chunk = parseCount(f, v, 1); }},
      {"--bench-prompt", [&](auto &f, auto &v) { o.benchPrompt = parseCount(f, v, 1); }},
      {"--bench-gen", [&](auto &f, auto &v) { o.benchGen = parseCount(f, v, 1); }},
      {"-t", threads},
      {"--threads", threads},
  };
  const std::map<std::string, bool *> switches = {
      {"-h", &o.help},           {"--help", &o.help},   {"--chat", &o.chat},         {"--json", &o.json},
      {"--special", &o.special}, {"--bench", &o.bench}, {"--info", &o.info},         {"--version", &o.version},
      {"--mmap", &o.mmap},       {"--serve", &o.serve}, {"--raw-bytes", &o.rawBytes}};

  bool optionsEnded = false; // after "--" every argument is a positional one, and the program takes none
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--" && !optionsEnded) {
      optionsEnded = true;
      continue;
    }
    if (optionsEnded || arg.size() < 2 || arg[0] != '-')
      throw UsageError("unexpected argument '" + arg + "' (see --help)");
    std::optional<std::string> attached; // --name=value
    if (size_t equals = arg.find('='); arg.rfind("--", 0) == 0 && equals != std::string::npos) {
      attached = arg.substr(equals + 1);
      arg.resize(equals);
    }
    if (auto s = switches.find(arg); s != switches.end()) {
      if (attached) throw UsageError(arg + " takes no value");
      *s->second = true;
      continue;
    }
    auto handler = withValue.find(arg);
    if (handler == withValue.end()) throw UsageError("unknown option '" + arg + "' (see --help)");
    if (!attached && i + 1 == args.size()) throw UsageError(arg + " expects a value");
    handler->second(arg, attached ? *attached : args[++i]);
  }
  if (o.help) return o;

  std::vector<std::string> modes;
  if (o.tokenize) modes.push_back("--tokenize");
  if (o.detokenize) modes.push_back("--detokenize");
  if (o.chat || !promptFlag.empty()) modes.push_back(o.chat ? "--chat" : promptFlag);
  if (o.serve) modes.push_back("--serve");
  if (o.ids) modes.push_back("--ids");
  if (o.bench) modes.push_back("--bench");
  if (o.info) modes.push_back("--info");
  if (o.version) modes.push_back("--version");
  if (modes.empty())
    throw UsageError("nothing to do: give -p TEXT, -f FILE, --chat, --serve, --tokenize, --detokenize, --ids, "
                     "--bench, --info or --version (see --help)");
  if (modes.size() > 1) {
    std::string list = modes[0];
    for (size_t m = 1; m < modes.size(); ++m) list += (m + 1 == modes.size() ? " and " : ", ") + modes[m];
    throw UsageError(list + " cannot be combined");
  }
  if (o.chat && o.promptFile == "-")
    throw UsageError("--chat reads its turns from stdin; give the first one with -p TEXT or -f FILE");
  if (!o.chat && (o.system || o.toolsFile)) throw UsageError("--system and --tools need --chat");
  if (o.jsonSchemaFile && !o.prompt && !o.promptFile && !o.chat)
    throw UsageError("--json-schema needs -p, -f or --chat (server requests give response_format instead)");
  if (serverFlagGiven && !o.serve) throw UsageError("--host, --port, --api-key and --max-queue need --serve");
  if (o.serve && (o.maxTokens >= 0 || !o.stopStrings.empty() || o.seedGiven || o.json || o.special || o.rawBytes))
    throw UsageError("-n, --stop, --seed, --json, --special and --raw-bytes do not apply to --serve (requests set "
                     "max_tokens, stop and seed)");
  if (o.rawBytes && o.json) throw UsageError("--raw-bytes and --json cannot be combined: JSON is valid UTF-8");
  if (o.rawBytes && !o.prompt && !o.promptFile && !o.chat && !o.detokenize)
    throw UsageError("--raw-bytes needs -p, -f, --chat or --detokenize");
  if (!o.rawBytes)
    for (const std::string &stop : o.stopStrings)
      if (!isValidUtf8(stop))
        throw UsageError("--stop: '" + toValidUtf8(stop) +
                         "' is not valid UTF-8, so it can never match the "
                         "reply's text (give --raw-bytes to match bytes)");
  if (stateCacheGiven && !o.serve && !o.chat) throw UsageError("--state-cache-mb needs --chat or --serve");
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
  -p, --prompt TEXT        complete TEXT as is (no chat template) and print the continuation; "-p -" reads
                           TEXT from stdin
  -f, --file FILE          like -p, with the text of FILE (one final newline dropped, as from stdin)
  --chat                   chat: each line read from stdin is a user turn; works with a pipe. With -p or -f, that
                           text is the first turn. Ctrl-C stops the current reply only. When the conversation no
                           longer leaves room for a reply in the context, its oldest exchanges are dropped (the
                           system prompt stays) with a note on stderr
  --serve                  serve an OpenAI-compatible HTTP API (see Server below) until SIGINT or SIGTERM
  --tokenize TEXT          print TEXT's token ids, space-separated, on one line
  --detokenize IDS         print the exact text of comma-separated ids (e.g. 1,2,3), nothing added
  --ids IDS                run the model on comma-separated token ids (no BOS, no tokenizer); the output comes
                           from --logits and --greedy
  --bench                  measure prefill and decode tokens/s, the machine's read bandwidth, peak RSS, the
                           time to the first token and when the weights' copy took over (docs/runtime.md)
  --info                   print what was compiled: variant, target, context, weight types, build id
  --version                print the build id (granitec version, model, target, context) and the target
  -h, --help               print this help

Chat:
  --system TEXT            system prompt (otherwise Granite's default one, unless tools are given)
  --tools FILE.json        a JSON array of OpenAI-style tools the model may call

Output:
  --raw-bytes              print the reply (and --detokenize) as the tokens' bytes, even where they form no
                           valid UTF-8; without it, every text printed is valid UTF-8: a character split across
                           tokens is printed when complete, bytes that form none become U+FFFD
  --json                   one JSON object per reply instead of streamed text, shaped like OpenAI's responses:
                           a chat.completion for --chat turns, a text_completion for -p and -f
  --json-schema FILE       every reply is a JSON value valid against the JSON Schema in FILE (or any JSON object
                           for the schema {"type": "object"}): sampling only picks tokens that keep it so, and
                           the reply ends when the value is complete (docs/runtime.md, Structured output)
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
  --seed N                 random seed; the same seed gives the same output (default and -1: random)
  -n, --max-tokens N       stop after N tokens (default -1: at <|end_of_text|> or a full context)
  --stop TEXT              stop before TEXT (repeatable; TEXT is not printed)

Server (--serve; the sampling flags above but --seed are the defaults of requests that leave them out):
  --host HOST              the address to listen on (default 127.0.0.1)
  --port N                 the TCP port, 0 to 65535 (default 8080; 0 takes any free port and prints it)
  --api-key KEY            requests must send "Authorization: Bearer KEY" (default: the GRANITE_API_KEY
                           environment variable; neither: no key needed)
  --max-queue N            requests that may wait while one runs (default 16, 0 = none); more get 503

Context and memory:
  -c, --ctx-size N         use N positions of the context, at most the compiled one (default: all of it)
  --state-cache-mb N       with --chat or --serve: keep up to N MB of model-state snapshots so that a new turn
                           resumes where the conversation was instead of reading it again (default 1024, 0 = off)
  -t, --threads N          threads that run the kernels (default: the compiled default, else one per CPU)
  --mmap                   read the weights where the executable is mapped instead of copying them into huge
                           pages in the background: no copy and less memory, a slower decode (about 10%)

Compiled model checks:
  --logits FILE            with --ids: write the logits after each prompt token, as computed and divided by the
                           logit scale: raw little-endian f32 [prompt][vocab]
  --greedy N               with --ids: then decode N tokens greedily, one per step, and print their ids on one
                           line: the argmax as llama.cpp takes it, but never a padding row past the tokenizer
  --gen-logits FILE        with --greedy: the logits each decoded token was chosen from, [N][vocab]
  --chunk K                feed the prompt in pieces of at most K tokens (also with --bench)
  --bench-prompt N         with --bench: prompt tokens to prefill (default 512, or 3/4 of a shorter context)
  --bench-gen N            with --bench: tokens to decode (default 128, or what a shorter context leaves)

An option's value may also be attached with '=' (--temp=0.7). "--" ends the options; this program takes no other
arguments, so anything after it is an error.

Exit status: 0 success, 1 runtime error, 2 bad command line.
)";
}

} // namespace granite::runtime
