// The executable under abuse (issue #20 item 4): a compiled golden model (dense q4_k_m, the smallest) takes 1,200
// seeded random requests on both endpoints, streamed and not: random text with special-token strings, emoji, control
// characters and lone surrogates (escaped \udc80: raw bytes cannot travel in JSON), sampler settings at and past
// their limits, stop strings, logprobs, tools and JSON mode, and malformed bodies. Every response must come within
// its timeout, be valid UTF-8 and valid JSON (server-sent events: every event), and be either a reply (200) or an
// OpenAI error (4xx, never 5xx); the server keeps answering /health, and a greedy reply to a fixed prompt is the same
// before and after (no state leaks from one request into another). The command line gets the same treatment with
// raw invalid bytes on stdin, and output to a closed pipe must end the run quietly.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { compileGolden, startServer, syntheticModel } from "./helpers.mjs";

const kRequests = 1200;
const kConcurrency = 4; // below --max-queue, so that no request is refused as busy
const kTimeoutMs = 30_000;
const kVocabulary = 512; // the golden models' (shared/golden/README.md)

/// mulberry32: a small seeded generator, so that a failure can be replayed.
function random(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

const specialTokens = ["<|start_of_role|>", "<|end_of_role|>", "<|end_of_text|>", "<|tool_call|>", "<tool_call>",
  "</tool_call>", "<fim_prefix>", "<fim_middle>", "<|pad|>", "<|unk|>", "<|reserved_7|>"];
const pieces = ["hello", " world", " granite", "The", " 42", "é", "ß", "日本語", "🙂", "👩‍🚀", "\u0000", "\u0007", "\n",
  "\r\n", "\t", '"', "\\", "{\"a\": [1, 2]}", "\uffff", "\ufffd", " ".repeat(30), "<", "|", ">", ...specialTokens];
const loneSurrogates = ["\udc80", "\ud800", "\udfff"];

function randomText(rng) {
  let text = "";
  for (let n = rng.int(rng.chance(0.05) ? 0 : 1, 8); n > 0; n--) text += rng.pick(pieces);
  if (rng.chance(0.02)) text += rng.pick(loneSurrogates); // the server refuses these: not Unicode text
  return text;
}

/// Sampler and generation fields, each present or not, at their documented limits; one request in five also has a
/// field past them (or a lone surrogate in its text), which must be refused with a 400.
const validSettings = {
  temperature: [0, 0.7, 2],
  top_p: [0, 0.01, 1],
  top_k: [0, 1, 2, kVocabulary + 1, 2 ** 31 - 1],
  min_p: [0, 0.5, 1],
  presence_penalty: [-2, 0, 2],
  frequency_penalty: [-2, 0, 2],
  seed: [0, 1, -1, 2 ** 53],
  max_tokens: [1, 2, 8],
  stop: ["e", ["\n", " ", "é", "🙂"], ["<|end_of_text|>", "<tool_call>"], "<|start_of_role|>"],
  logit_bias: [{ 101: 100 }, { 0: -100, 511: 50 }],
  n: [1],
};
const invalidSettings = {
  temperature: [100, -1, "hot"],
  top_p: [1.5, -0.1],
  top_k: [-1, 2 ** 31, 1.5],
  presence_penalty: [3],
  max_tokens: [0, -5, 1e300],
  stop: ["", ["a", "b", "c", "d", "e"], 7],
  logit_bias: [{ 99999: 1 }, { 1: 101 }, { x: 1 }],
  n: [2],
  top_logprobs: [21],
  stream: ["yes"],
};

function randomSettings(rng, chat) {
  const settings = {};
  for (const [name, values] of Object.entries(validSettings)) if (rng.chance(0.3)) settings[name] = rng.pick(values);
  // Most requests stay short: a reply without max_tokens runs to the end of text or of the (512) context.
  if (!("max_tokens" in settings) && rng.chance(0.9)) settings.max_tokens = rng.int(1, 8);
  if (rng.chance(0.3)) {
    settings.logprobs = chat ? true : rng.int(0, 5);
    if (chat) settings.top_logprobs = rng.pick([0, 3, 20]);
  }
  if (chat && rng.chance(0.05)) settings.response_format = { type: "json_object" };
  if (rng.chance(0.15)) {
    const name = rng.pick(Object.keys(invalidSettings));
    settings[name] = rng.pick(invalidSettings[name]);
  }
  return settings;
}

function randomChatBody(rng) {
  const messages = [];
  if (rng.chance(0.3)) messages.push({ role: "system", content: randomText(rng) });
  for (let turns = rng.int(0, 2); turns > 0; turns--)
    messages.push({ role: "user", content: randomText(rng) }, { role: "assistant", content: randomText(rng) });
  messages.push({ role: "user", content: randomText(rng) });
  const body = { model: "dense-q4_k_m", messages, ...randomSettings(rng, true) };
  if (rng.chance(0.1)) {
    body.tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object",
      properties: { city: { type: "string" } }, required: ["city"] } } }];
    body.tool_choice = rng.pick(["auto", "none", "required"]);
  }
  return body;
}

function randomCompletionBody(rng) {
  const prompt = rng.chance(0.1) ? [rng.int(0, kVocabulary), rng.int(0, kVocabulary - 1)] : randomText(rng);
  return { model: "dense-q4_k_m", prompt, ...randomSettings(rng, false) };
}

/// Bodies that are not requests at all.
function malformedBody(rng) {
  return rng.pick(["", "{", "[]", "null", '{"messages": "hi"}', '{"prompt": {"a": 1}}', '{"prompt": "a", "stream": "yes"}',
    '{"messages": [{"role": "wizard", "content": "hi"}]}', '{"prompt": "' + "x".repeat(5000) + '"}',
    '{"prompt": "a"} trailing', "\u00ff\u00fe", '{"prompt": "a", "max_tokens": 1e400}', '{"prompt": "\\ud800"}']);
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/// POSTs `body`; the response as checked text (throws on invalid UTF-8 or a timeout).
async function post(url, path, body) {
  const response = await fetch(url + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
    signal: AbortSignal.timeout(kTimeoutMs),
  });
  const text = fatalUtf8.decode(new Uint8Array(await response.arrayBuffer()));
  return { status: response.status, text, type: response.headers.get("content-type") ?? "" };
}

/// A 4xx in OpenAI's error shape, or a 200 reply (JSON, or server-sent events of JSON ending with [DONE]).
function checkResponse(reply, what) {
  if (reply.status >= 400 && reply.status < 500) {
    const { error } = JSON.parse(reply.text);
    assert.equal(typeof error.message, "string", what);
    assert.equal(typeof error.type, "string", what);
    return "error";
  }
  assert.equal(reply.status, 200, `${what}: ${reply.text}`);
  if (reply.type.startsWith("text/event-stream")) {
    const events = reply.text.split("\n\n").filter((event) => event !== "");
    assert.equal(events.at(-1), "data: [DONE]", what);
    for (const event of events.slice(0, -1)) {
      assert.ok(event.startsWith("data: "), `${what}: ${event}`);
      const chunk = JSON.parse(event.slice(6));
      assert.ok(!chunk.error, `${what}: an error in the stream: ${event}`);
      assert.ok(Array.isArray(chunk.choices), what);
    }
    return "stream";
  }
  const object = JSON.parse(reply.text);
  assert.ok(["chat.completion", "text_completion"].includes(object.object), what);
  const [choice] = object.choices;
  assert.ok(["stop", "length", "tool_calls"].includes(choice.finish_reason), what);
  if (object.object === "text_completion") assert.equal(typeof choice.text, "string", what);
  else assert.ok(typeof choice.message.content === "string" || choice.message.tool_calls, what);
  return "reply";
}

describe("the executable under abuse", () => {
  let dir;
  let executable;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "granite-abuse-"));
    executable = compileGolden("dense-q4_k_m", dir, ["--ctx", "512"]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test(`${kRequests} random requests: no crash, no hang, valid UTF-8 and JSON, no state leak`, async (t) => {
    const server = await startServer(executable);
    try {
      const greedy = async () => {
        const completion = await post(server.url, "/v1/completions",
          JSON.stringify({ prompt: "The granite", temperature: 0, max_tokens: 16, logprobs: 3 }));
        const chat = await post(server.url, "/v1/chat/completions", JSON.stringify({
          messages: [{ role: "user", content: "Tell me about granite." }], temperature: 0, max_tokens: 16,
          logprobs: true, top_logprobs: 3 }));
        return [completion, chat].map((reply) => {
          assert.equal(reply.status, 200, reply.text);
          const { choices, usage } = JSON.parse(reply.text);
          return { text: choices[0].text ?? choices[0].message.content, logprobs: choices[0].logprobs, usage: usage.completion_tokens };
        });
      };
      const before = await greedy();

      const rng = random(20);
      const requests = [];
      for (let i = 0; i < kRequests; i++) {
        const chat = rng.chance(0.5);
        const path = chat ? "/v1/chat/completions" : "/v1/completions";
        if (rng.chance(0.05)) {
          requests.push({ path, body: malformedBody(rng) });
          continue;
        }
        const body = chat ? randomChatBody(rng) : randomCompletionBody(rng);
        if (rng.chance(0.5) && !("stream" in body)) {
          body.stream = true;
          if (rng.chance(0.3)) body.stream_options = { include_usage: true };
        }
        requests.push({ path, body: JSON.stringify(body) });
      }

      const outcomes = { reply: 0, stream: 0, error: 0 };
      let next = 0;
      const worker = async () => {
        while (next < requests.length) {
          const index = next++;
          const { path, body } = requests[index];
          const what = `request ${index} to ${path}: ${body.slice(0, 300)}`;
          outcomes[checkResponse(await post(server.url, path, body), what)]++;
          if (index % 100 === 0) {
            const health = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(kTimeoutMs) });
            assert.equal(health.status, 200, `/health after ${what}`);
          }
        }
      };
      await Promise.all(Array.from({ length: kConcurrency }, worker));
      t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
      // Each kind of outcome is well represented: the test is not all refusals.
      for (const [kind, count] of Object.entries(outcomes)) assert.ok(count >= kRequests / 10, `${kind}: ${count}`);

      assert.deepEqual(await greedy(), before);
      assert.equal(server.child.exitCode, null, "the server is still running");
      assert.equal((await server.stop()).code, 0);
    } finally {
      await server.stop();
    }
  });

  test("the command line: raw invalid bytes in, valid UTF-8 out, at any sampler setting", () => {
    const rng = random(21);
    const bytes = [[0x80], [0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]];
    for (let run = 0; run < 60; run++) {
      const parts = [];
      for (let n = rng.int(1, 6); n > 0; n--)
        parts.push(rng.chance(0.4) ? Buffer.from(rng.pick(bytes)) : Buffer.from(rng.pick(pieces)));
      const input = Buffer.concat([Buffer.from("x"), ...parts]); // never empty: that prompt is an error
      const args = rng.chance(0.2) ? ["--chat"] : ["-p", "-"];
      args.push("-n", String(rng.pick([0, 1, 4, 12])), "--seed", String(run));
      const flags = { "--temp": [0, 1, 100], "--top-k": [0, 1, kVocabulary + 1], "--top-p": [0, 1], "--min-p": [0, 1],
        "--repeat-penalty": [0.5, 1, 2], "--presence-penalty": [-2, 2], "--frequency-penalty": [-2, 2],
        "--stop": ["e", "é", "<|end_of_text|>"] };
      for (const [flag, values] of Object.entries(flags)) if (rng.chance(0.4)) args.push(flag, String(rng.pick(values)));
      const mode = rng.pick(["", "--json", "--special"]);
      if (mode) args.push(mode);
      const result = spawnSync(executable, args, { input, timeout: kTimeoutMs });
      const what = `${args.join(" ")} < ${input.toString("hex")}`;
      assert.equal(result.error, undefined, what);
      assert.equal(result.status, 0, `${what}: ${result.stderr}`);
      const out = fatalUtf8.decode(result.stdout);
      fatalUtf8.decode(result.stderr);
      if (mode === "--json") for (const line of out.split("\n").filter(Boolean)) JSON.parse(line);
    }
  });

  test("a random-weight model with the real vocabulary, at high temperatures, prints valid UTF-8", (t) => {
    // Sampling from the whole vocabulary picks byte tokens that form no character, so --raw-bytes must show invalid
    // UTF-8 in some runs (else this test proves nothing), and without it no run may.
    const model = syntheticModel();
    const prompts = ["Hello", "日本語のテキスト", "🙂🙂", "<|start_of_role|>user", "def f(x):"];
    let rawRuns = 0, rawInvalid = 0;
    for (let run = 0; run < 15; run++) {
      const args = [...(run % 3 === 2 ? ["--chat"] : []), "-p", prompts[run % prompts.length], "-n", "24", "--seed", String(run),
        "--temp", String([2, 5, 100][run % 3]), "--top-k", "0", "--top-p", "1", "--min-p", "0"];
      const mode = ["", "--json", "--special"][run % 3];
      const result = spawnSync(model, mode ? [...args, mode] : args, { input: "", timeout: kTimeoutMs });
      assert.equal(result.status, 0, `${args.join(" ")}: ${result.stderr}`);
      const out = fatalUtf8.decode(result.stdout);
      if (mode === "--json") JSON.parse(out);
      if (mode !== "--json") {
        const raw = spawnSync(model, [...args, "--raw-bytes"], { input: "", timeout: kTimeoutMs });
        rawRuns++;
        try {
          fatalUtf8.decode(raw.stdout);
        } catch {
          rawInvalid++;
        }
      }
    }
    t.diagnostic(`runs whose raw bytes are not UTF-8: ${rawInvalid} of ${rawRuns}`);
    assert.ok(rawInvalid > 0, "no run sampled bytes that form no character");
  });

  test("output to a closed pipe ends the run at once and quietly", () => {
    // SIGPIPE's default action ends the process (status 141); where SIGPIPE is ignored, EPIPE ends it (status 0).
    for (const setup of ["", "trap '' PIPE; "]) {
      const script = `${setup}"$0" -p hi -n 50 --temp 1 | head -c 1 >/dev/null; echo "\${PIPESTATUS[0]}"`;
      const result = spawnSync("bash", ["-c", script, executable], { encoding: "utf8", timeout: kTimeoutMs });
      assert.equal(result.error, undefined);
      assert.ok(["0\n", "141\n"].includes(result.stdout), `${setup}: status ${result.stdout}`);
      assert.equal(result.stderr, "", setup);
    }
  });
});
