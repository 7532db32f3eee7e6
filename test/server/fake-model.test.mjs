// The server of `--serve` driven by the official openai client, on FakeGraniteCli's keyword model: replies are known
// in advance, so every assertion is exact. Run: node --test test/server/ (scripts/test does).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, after, describe, test } from "node:test";

import { OpenAI, errorOf, exportRanks, fetchJson, postRaw, startFakeServer, temporaryDirectory } from "./helpers.mjs";

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  assert.ok(line, `metric ${name} in:\n${text}`);
  return Number(line.split(" ")[1]);
}

async function waitFor(condition, what, timeoutMs = 5000) {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("server on the keyword model", () => {
  let dir;
  let server;
  let client;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "granite-server-test-"));
    server = await startFakeServer(exportRanks(dir));
    client = server.client();
  });
  after(async () => {
    const { code } = await server.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, server.stderr());
  });

  test("chat, not streamed", async () => {
    const reply = await client.chat.completions.create({
      model: "FakeGraniteCli",
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "count please" }],
    });
    assert.match(reply.id, /^chatcmpl-/);
    assert.equal(reply.object, "chat.completion");
    assert.equal(reply.model, "FakeGraniteCli");
    assert.equal(reply.choices.length, 1);
    assert.equal(reply.choices[0].message.role, "assistant");
    assert.equal(reply.choices[0].message.content, "one two three four five six seven eight nine ten");
    assert.equal(reply.choices[0].finish_reason, "stop");
    assert.equal(reply.usage.completion_tokens, 10);
    assert.ok(reply.usage.prompt_tokens > 10);
    assert.equal(reply.usage.total_tokens, reply.usage.prompt_tokens + 10);
    assert.equal(typeof reply.usage.prompt_tokens_details.cached_tokens, "number");
  });

  test("chat, streamed, with usage", async () => {
    const stream = await client.chat.completions.create({
      model: "FakeGraniteCli",
      messages: [{ role: "user", content: "count" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let role;
    let finish;
    let usage;
    let pieces = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.object, "chat.completion.chunk");
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length === 0) continue;
      const { delta, finish_reason } = chunk.choices[0];
      role ??= delta.role;
      if (delta.content) {
        text += delta.content;
        pieces++;
      }
      if (finish_reason) finish = finish_reason;
    }
    assert.equal(role, "assistant");
    assert.equal(text, "one two three four five six seven eight nine ten");
    assert.ok(pieces > 1, "the reply comes in pieces");
    assert.equal(finish, "stop");
    assert.equal(usage.completion_tokens, 10);
  });

  test("the event stream is data: lines ending with [DONE]", async () => {
    const reply = await postRaw(
      server.url,
      "/v1/chat/completions",
      JSON.stringify({ messages: [{ role: "user", content: "count" }], stream: true, max_tokens: 3 }),
    );
    assert.equal(reply.status, 200);
    assert.match(reply.headers.get("content-type"), /^text\/event-stream/);
    const events = reply.text.split("\n\n").filter((e) => e.length > 0);
    assert.equal(events.at(-1), "data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => {
      assert.ok(e.startsWith("data: "), e);
      return JSON.parse(e.slice(6));
    });
    assert.equal(chunks.at(-1).choices[0].finish_reason, "length");
    assert.equal(chunks.map((c) => c.choices[0].delta.content ?? "").join(""), "one two three");
  });

  test("completion with logprobs", async () => {
    const reply = await client.completions.create({ model: "x", prompt: "count", max_tokens: 3, logprobs: 2 });
    assert.match(reply.id, /^cmpl-/);
    assert.equal(reply.object, "text_completion");
    assert.equal(reply.choices[0].text, "one two three");
    assert.equal(reply.choices[0].finish_reason, "length");
    assert.deepEqual(reply.choices[0].logprobs.tokens, ["one", " two", " three"]);
    const { tokens, token_logprobs: tokenLogprobs, top_logprobs: topLogprobs } = reply.choices[0].logprobs;
    for (const [i, top] of topLogprobs.entries()) {
      assert.equal(Object.keys(top).length, 2);
      // The keyword model gives the chosen id logit 10 and one other id 9.
      assert.ok(Math.abs(top[tokens[i]] - tokenLogprobs[i]) < 1e-6);
      const [first, second] = Object.values(top);
      assert.ok(Math.abs(first - second - 1) < 1e-4, `margin of 1 nat: ${first} ${second}`);
    }
    assert.equal(reply.usage.completion_tokens, 3);
  });

  test("chat logprobs", async () => {
    const reply = await client.chat.completions.create({
      model: "x",
      messages: [{ role: "user", content: "count" }],
      max_tokens: 2,
      logprobs: true,
      top_logprobs: 3,
    });
    const content = reply.choices[0].logprobs.content;
    assert.deepEqual(content.map((c) => c.token), ["one", " two"]);
    assert.deepEqual(content[1].bytes, [...Buffer.from(" two")]);
    assert.equal(content[0].top_logprobs.length, 3);
    assert.equal(content[0].top_logprobs[0].token, "one");
  });

  test("a tool-call round trip", async () => {
    const messages = [{ role: "user", content: "What is the weather in Paris?" }];
    const first = await client.chat.completions.create({ model: "x", messages, tools: [weatherTool] });
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.match(call.id, /^call_/);
    assert.equal(call.type, "function");
    assert.equal(call.function.name, "get_weather");
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });

    messages.push(choice.message);
    messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify({ sky: "sunny" }) });
    const second = await client.chat.completions.create({ model: "x", messages, tools: [weatherTool] });
    assert.equal(second.choices[0].message.content, "The weather in Paris is sunny.");
    assert.equal(second.choices[0].finish_reason, "stop");
    assert.equal(second.choices[0].message.tool_calls, undefined);
    // The call as returned re-renders exactly the tokens the model produced, so the model resumes after them.
    assert.equal(second.usage.prompt_tokens_details.cached_tokens, first.usage.total_tokens);
  });

  test("a conversation that sends replies back as given resumes after the previous reply", async () => {
    const messages = [{ role: "user", content: "count" }];
    const first = await client.chat.completions.create({ model: "x", messages });
    messages.push(first.choices[0].message, { role: "user", content: "and now?" });
    const second = await client.chat.completions.create({ model: "x", messages });
    assert.equal(second.choices[0].message.content, "done");
    assert.equal(second.usage.prompt_tokens_details.cached_tokens, first.usage.total_tokens);
    assert.ok(second.usage.prompt_tokens > first.usage.total_tokens);
  });

  test("a streamed tool call arrives as one tool_calls delta, never as text", async () => {
    const stream = await client.chat.completions.create({
      model: "x",
      messages: [{ role: "user", content: "weather in Paris?" }],
      tools: [weatherTool],
      stream: true,
    });
    let text = "";
    const calls = [];
    let finish;
    for await (const chunk of stream) {
      const { delta, finish_reason } = chunk.choices[0];
      text += delta.content ?? "";
      if (delta.tool_calls) calls.push(...delta.tool_calls);
      if (finish_reason) finish = finish_reason;
    }
    assert.equal(text, "");
    assert.equal(calls.length, 1);
    assert.equal(calls[0].index, 0);
    assert.match(calls[0].id, /^call_/);
    assert.equal(calls[0].function.name, "get_weather");
    assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: "Paris" });
    assert.equal(finish, "tool_calls");
  });

  test("tool_choice none never returns tool calls", async () => {
    const reply = await client.chat.completions.create({
      model: "x",
      messages: [{ role: "user", content: "weather in Paris?" }],
      tools: [weatherTool],
      tool_choice: "none",
    });
    assert.equal(reply.choices[0].message.tool_calls, undefined);
    assert.equal(reply.choices[0].finish_reason, "stop");
    assert.match(reply.choices[0].message.content, /get_weather/); // what the model wrote, as text
  });

  test("malformed JSON, unknown and unsupported fields are 400 naming the problem", async () => {
    const chat = (body) => postRaw(server.url, "/v1/chat/completions", body);
    const messages = [{ role: "user", content: "hi" }];
    assert.equal(errorOf(assert, await chat("{bad"), 400).code, "invalid_json");
    let error = errorOf(assert, await chat(JSON.stringify({ messages, frobnicate: 1 })), 400);
    assert.equal(error.message, "Unrecognized request argument supplied: frobnicate");
    assert.equal(error.param, "frobnicate");
    error = errorOf(assert, await chat(JSON.stringify({ messages, n: 2 })), 400);
    assert.equal(error.param, "n");
    error = errorOf(
      assert,
      await chat(JSON.stringify({ messages, response_format: { type: "json_schema", json_schema: {} } })),
      400,
    );
    assert.match(error.message, /json_schema/);
    error = errorOf(assert, await chat(JSON.stringify({ messages, temperature: 7 })), 400);
    assert.equal(error.param, "temperature");
    error = errorOf(assert, await chat(JSON.stringify({ messages: [{ role: "wizard", content: "x" }] })), 400);
    assert.equal(error.param, "messages[0].role");
    error = errorOf(assert, await chat(JSON.stringify({ messages, logit_bias: { 99999999: 5 } })), 400);
    assert.equal(error.param, "logit_bias");
    // Fields that change nothing here are accepted.
    const accepted = await chat(JSON.stringify({ messages, user: "u1", metadata: { a: "b" }, store: false }));
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.json.choices[0].message.content, "done");
    // The client library's own error class sees the same.
    await assert.rejects(
      client.chat.completions.create({ model: "x", messages, n: 3 }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "n",
    );
  });

  test("a body over the limit is 413", async () => {
    const huge = JSON.stringify({ messages: [{ role: "user", content: "x".repeat(9 << 20) }] });
    errorOf(assert, await postRaw(server.url, "/v1/chat/completions", huge), 413);
  });

  test("a prompt longer than the context is 400 with both counts", async () => {
    const reply = await postRaw(
      server.url,
      "/v1/chat/completions",
      JSON.stringify({ messages: [{ role: "user", content: "word ".repeat(3000) }] }),
    );
    const error = errorOf(assert, reply, 400);
    assert.equal(error.code, "context_length_exceeded");
    assert.match(error.message, /maximum context length is 2048 tokens/);
    assert.match(error.message, /resulted in \d{4} tokens/);
  });

  test("unknown paths are 404 and wrong methods 405, in OpenAI's error shape", async () => {
    errorOf(assert, { ...(await fetchJson(`${server.url}/v1/nothing`)) }, 404);
    const wrongMethod = await fetchJson(`${server.url}/v1/chat/completions`);
    errorOf(assert, wrongMethod, 405);
    errorOf(assert, await postRaw(server.url, "/v1/models", "{}"), 405);
  });

  test("models, health and metrics", async () => {
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      ["FakeGraniteCli"],
    );
    const health = await fetchJson(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.json.status, "ok");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of [
      'granite_requests_total{status="200"}',
      'granite_requests_total{status="400"}',
      "granite_prompt_tokens_total",
      "granite_completion_tokens_total",
      "granite_prefill_tokens_per_second",
      "granite_decode_tokens_per_second",
      "granite_queue_depth",
      "granite_state_cache_hits_total",
    ])
      assert.ok(metrics.includes(`\n${name} `), `${name} in /metrics`);
    assert.ok((await metric(server.url, "granite_completion_tokens_total")) > 0);
  });

  test("a client that disconnects mid-stream stops its generation", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "x", messages: [{ role: "user", content: "tick" }], stream: true },
      { signal: controller.signal },
    );
    let received = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) received++;
        if (received === 5) controller.abort();
      }
    } catch {
      // the aborted read may throw or just end
    }
    assert.equal(received, 5);
    assert.equal(await metric(server.url, "granite_requests_running"), 1, "still generating right after the abort");
    // The reply would take 10 s; it must stop at once, after a few more tokens at most.
    await waitFor(async () => (await metric(server.url, "granite_requests_running")) === 0, "the stop", 2000);
    const tokens = await metric(server.url, "granite_completion_tokens_total");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await metric(server.url, "granite_completion_tokens_total"), tokens);
    const reply = await client.chat.completions.create({ model: "x", messages: [{ role: "user", content: "hi" }] });
    assert.equal(reply.choices[0].message.content, "done");
  });

  test("a client that disconnects while waiting for a whole reply stops its generation", async () => {
    const controller = new AbortController();
    const pending = client.chat.completions
      .create({ model: "x", messages: [{ role: "user", content: "tick" }] }, { signal: controller.signal })
      .catch((e) => e);
    await waitFor(async () => (await metric(server.url, "granite_requests_running")) === 1, "the generation");
    controller.abort();
    assert.ok((await pending) instanceof OpenAI.APIUserAbortError);
    await waitFor(async () => (await metric(server.url, "granite_requests_running")) === 0, "the stop", 2000);
  });

  test("20 concurrent clients are all answered or cleanly refused", async () => {
    // A slow reply holds the model so that the queue (16 places) fills.
    const controller = new AbortController();
    const slow = await client.chat.completions.create(
      { model: "x", messages: [{ role: "user", content: "tick" }], stream: true },
      { signal: controller.signal },
    );
    const slowDone = (async () => {
      try {
        for await (const chunk of slow); // eslint-disable-line no-unused-vars
      } catch {
        // aborted below
      }
    })();
    await waitFor(async () => (await metric(server.url, "granite_requests_running")) === 1, "the slow reply");
    let refusedEarly = 0;
    const settled = Promise.allSettled(
      Array.from({ length: 20 }, () =>
        client.chat.completions
          .create({ model: "x", messages: [{ role: "user", content: "count" }] })
          .catch((e) => {
            refusedEarly++;
            throw e;
          }),
      ),
    );
    await waitFor(async () => (await metric(server.url, "granite_queue_depth")) === 16, "a full queue");
    await waitFor(async () => refusedEarly > 0, "a refusal");
    controller.abort();
    await slowDone;
    const results = await settled;
    let answered = 0;
    let refused = 0;
    for (const result of results) {
      if (result.status === "fulfilled") {
        assert.equal(result.value.choices[0].message.content, "one two three four five six seven eight nine ten");
        answered++;
      } else {
        assert.ok(result.reason instanceof OpenAI.APIError, String(result.reason));
        assert.equal(result.reason.status, 503);
        assert.equal(result.reason.code, "queue_full");
        refused++;
      }
    }
    assert.equal(answered + refused, 20);
    assert.ok(answered >= 16, `${answered} answered`);
    assert.ok(refused >= 1, "a full queue refuses");
    const health = await fetchJson(`${server.url}/health`);
    assert.equal(health.status, 200);
  });
});

describe("server with an API key", () => {
  test("a wrong or missing key is 401; the right one (also from GRANITE_API_KEY) works", async (t) => {
    const ranks = exportRanks(temporaryDirectory(t));
    for (const [args, env] of [
      [["--api-key", "s3cret"], {}],
      [[], { GRANITE_API_KEY: "s3cret" }],
    ]) {
      const server = await startFakeServer(ranks, args, env);
      try {
        const messages = [{ role: "user", content: "hi" }];
        await assert.rejects(
          server.client({ apiKey: "wrong" }).chat.completions.create({ model: "x", messages }),
          (e) => e instanceof OpenAI.AuthenticationError && e.status === 401,
        );
        errorOf(assert, await postRaw(server.url, "/v1/chat/completions", JSON.stringify({ messages })), 401);
        const reply = await server.client({ apiKey: "s3cret" }).chat.completions.create({ model: "x", messages });
        assert.equal(reply.choices[0].message.content, "done");
        assert.equal((await fetch(`${server.url}/health`)).status, 200);
      } finally {
        assert.equal((await server.stop()).code, 0);
      }
    }
  });
});

describe("shutdown", () => {
  test("SIGTERM cancels a running reply and exits 0", async (t) => {
    const server = await startFakeServer(exportRanks(temporaryDirectory(t)));
    const stream = await server
      .client()
      .chat.completions.create({ model: "x", messages: [{ role: "user", content: "tick" }], stream: true });
    const chunks = [];
    const reading = (async () => {
      try {
        for await (const chunk of stream) chunks.push(chunk);
      } catch {
        // the connection may close
      }
    })();
    await waitFor(async () => chunks.length > 3, "the stream to start");
    const started = Date.now();
    const { code } = await server.stop();
    await reading;
    assert.equal(code, 0, server.stderr());
    assert.ok(Date.now() - started < 5000, "stops promptly, not after the 10 s reply");
  });
});
