// Multi-turn time to first token, for scripts/bench --multiturn: one compiled executable served twice (`--serve`),
// once with its state cache (the default) and once with `--state-cache-mb 0` (every turn prefills the whole
// conversation, as llama.cpp does on Granite's hybrid models), and the same conversation sent to both as an OpenAI
// client does: every request carries all earlier messages. The first user message is long (`--first-words`, like
// a document or a tool result to discuss, about 1,150 tokens by default), each later one adds `--words` words;
// replies are greedy and at most `--reply-tokens` long, so the conversation ends near 2,000 tokens. The time to
// first token is measured from sending the request to the first streamed chunk that carries content or a finish
// reason; one short request before the conversation warms each server up. Prints one JSON object on stdout.
//
//   node scripts/node/multiturn-bench.mjs --exe EXE [--turns 8] [--first-words 1100] [--words 60] [--reply-tokens 32]
//                                         [--threads T]
import { spawn } from "node:child_process";

function usage(message) {
  process.stderr.write(`multiturn-bench.mjs: ${message}\n` +
    "usage: node multiturn-bench.mjs --exe EXE [--turns N] [--first-words N] [--words N] [--reply-tokens N] " +
    "[--threads T]\n");
  process.exit(2);
}

const args = { turns: 8, firstWords: 1100, words: 60, replyTokens: 32, threads: 0 };
for (let i = 2; i < process.argv.length; i += 2) {
  const flag = process.argv[i], value = process.argv[i + 1];
  if (value === undefined) usage(`${flag} needs a value`);
  if (flag === "--exe") args.exe = value;
  else if (flag === "--turns") args.turns = Number(value);
  else if (flag === "--first-words") args.firstWords = Number(value);
  else if (flag === "--words") args.words = Number(value);
  else if (flag === "--reply-tokens") args.replyTokens = Number(value);
  else if (flag === "--threads") args.threads = Number(value);
  else usage(`unknown flag ${flag}`);
}
if (!args.exe) usage("--exe is required");
for (const key of ["turns", "firstWords", "words", "replyTokens"])
  if (!Number.isInteger(args[key]) || args[key] < 1) usage(`--${key} must be a positive integer`);

/// Starts `exe --serve --port 0 ...` and resolves with {child, url} once it prints the address it listens on.
function startServer(extraArgs) {
  const serveArgs = ["--serve", "--port", "0", ...extraArgs];
  if (args.threads > 0) serveArgs.push("--threads", String(args.threads));
  const child = spawn(args.exe, serveArgs, { stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`the server did not start within 120 s:\n${log}`)), 120000);
    child.stderr.on("data", (data) => {
      log += data;
      const match = log.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1] });
      }
    });
    child.on("exit", (code) => reject(new Error(`the server exited with ${code}:\n${log}`)));
  });
}

/// Deterministic filler text: words drawn from a fixed list by a linear congruential sequence.
function userMessage(turn, words) {
  const vocabulary = ("the model reads every message of the conversation again unless it keeps its state between " +
    "turns so this benchmark sends a long history and measures how soon the first token of each reply arrives " +
    "granite hybrid layers carry a recurrent state that cannot be rolled back").split(" ");
  let seed = 12345 + turn * 7919;
  const out = [`Turn ${turn + 1}.`];
  for (let i = 0; i < words; ++i) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out.push(vocabulary[seed % vocabulary.length]);
  }
  return out.join(" ");
}

/// One streamed chat request: the time to the first content (or finish) chunk, the reply and its usage.
async function streamTurn(url, messages) {
  const start = performance.now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages, temperature: 0, max_tokens: args.replyTokens, stream: true,
                           stream_options: { include_usage: true } }),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  let buffer = "", reply = "", firstTokenMs = null, usage = null;
  for await (const bytes of response.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      if (firstTokenMs === null && (choice.delta?.content || choice.finish_reason))
        firstTokenMs = performance.now() - start;
      if (choice.delta?.content) reply += choice.delta.content;
    }
  }
  if (firstTokenMs === null || !usage) throw new Error("the stream ended without a token or usage");
  return { firstTokenMs, reply, usage };
}

async function converse(extraArgs) {
  const { child, url } = await startServer(extraArgs);
  try {
    await streamTurn(url, [{ role: "user", content: "Hi" }]);
    const messages = [];
    const turns = [];
    for (let turn = 0; turn < args.turns; ++turn) {
      messages.push({ role: "user", content: userMessage(turn, turn === 0 ? args.firstWords : args.words) });
      const { firstTokenMs, reply, usage } = await streamTurn(url, messages);
      messages.push({ role: "assistant", content: reply });
      turns.push({ turn: turn + 1, first_token_ms: firstTokenMs, prompt_tokens: usage.prompt_tokens,
                   cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0, reply });
    }
    return turns;
  } finally {
    child.kill("SIGTERM");
  }
}

const withCache = await converse([]);
const withoutCache = await converse(["--state-cache-mb", "0"]);
const turns = withCache.map((on, i) => {
  const off = withoutCache[i];
  if (on.reply !== off.reply)
    throw new Error(`turn ${on.turn}: the replies differ with and without the cache`);
  return { turn: on.turn, prompt_tokens: on.prompt_tokens, cached_tokens: on.cached_tokens,
           first_token_ms_cache: on.first_token_ms, first_token_ms_no_cache: off.first_token_ms,
           ratio: on.first_token_ms / off.first_token_ms };
});
process.stdout.write(JSON.stringify({ exe: args.exe, turns }, null, 1) + "\n");
