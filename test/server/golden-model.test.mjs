// The server of an executable compiled from the hybrid golden model (Mamba2 + attention, shared/golden): greedy
// replies survive load and disconnects unchanged, and multi-turn conversations resume from the state cache with the
// same tokens and logprobs as without it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { compileGolden, startServer } from "./helpers.mjs";

const greedy = { model: "hybrid-f32", temperature: 0, max_tokens: 8, logprobs: true, top_logprobs: 3 };

/// The tokens of a reply as comparable data: bytes, logprob, alternatives.
function tokensOf(reply) {
  return reply.choices[0].logprobs.content.map((t) => ({
    bytes: t.bytes,
    logprob: t.logprob,
    top: t.top_logprobs.map((a) => ({ bytes: a.bytes, logprob: a.logprob })),
  }));
}

function assertSameTokens(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: token count`);
  for (let i = 0; i < expected.length; i++) {
    assert.deepEqual(actual[i].bytes, expected[i].bytes, `${what}: token ${i}`);
    assert.ok(Math.abs(actual[i].logprob - expected[i].logprob) <= 1e-5, `${what}: logprob of token ${i}`);
    assert.equal(actual[i].top.length, expected[i].top.length);
    for (let k = 0; k < expected[i].top.length; k++) {
      assert.deepEqual(actual[i].top[k].bytes, expected[i].top[k].bytes, `${what}: alternative ${k} of token ${i}`);
      assert.ok(Math.abs(actual[i].top[k].logprob - expected[i].top[k].logprob) <= 1e-5);
    }
  }
}

describe("server on the hybrid golden model", () => {
  let dir;
  let executable;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "granite-server-golden-"));
    executable = compileGolden("hybrid-f32", dir, ["--ctx", "1024"]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the executable needs no shared library for HTTP (httplib is compiled in without TLS or compression)", () => {
    const libraries = execFileSync("ldd", [executable], { encoding: "utf8" });
    assert.match(libraries, /libc\.so/);
    assert.doesNotMatch(libraries, /httplib|libssl|libcrypto|libz\.|libbrotli/);
  });

  test("a greedy reply is the same before and after concurrent load and a disconnect", async () => {
    const server = await startServer(executable);
    try {
      const client = server.client();
      const request = { ...greedy, messages: [{ role: "user", content: "Tell me about granite." }] };
      const before = await client.chat.completions.create(request);
      assert.equal(before.choices[0].finish_reason, "length");
      assert.equal(before.usage.completion_tokens, 8);

      const load = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          client.chat.completions.create({
            model: "hybrid-f32",
            max_tokens: 16,
            temperature: 0.8,
            seed: i,
            messages: [{ role: "user", content: `client ${i} asks something else` }],
          }),
        ),
      );
      for (const result of load)
        if (result.status === "rejected") assert.equal(result.reason.status, 503, String(result.reason));
      assert.ok(load.some((r) => r.status === "fulfilled"));

      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { model: "hybrid-f32", stream: true, max_tokens: 200, messages: [{ role: "user", content: "Go on." }] },
        { signal: controller.signal },
      );
      try {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content) controller.abort();
        }
      } catch {
        // aborted
      }

      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      const afterLoad = await client.chat.completions.create(request);
      assert.equal(afterLoad.choices[0].message.content, before.choices[0].message.content);
      assertSameTokens(tokensOf(afterLoad), tokensOf(before), "after the load");
    } finally {
      assert.equal((await server.stop()).code, 0, server.stderr());
    }
  });

  test("a 4-turn conversation: the same tokens with the state cache on and off, and its prefix reused", async () => {
    async function converse(args) {
      const server = await startServer(executable, args);
      try {
        const client = server.client();
        const messages = [{ role: "system", content: "You are terse." }];
        const turns = [];
        for (const question of ["Hello there.", "What is granite?", "Where is it found?", "Thanks, bye."]) {
          messages.push({ role: "user", content: question });
          const reply = await client.chat.completions.create({ ...greedy, messages });
          turns.push({ tokens: tokensOf(reply), usage: reply.usage });
          messages.push({ role: "assistant", content: reply.choices[0].message.content });
        }
        return turns;
      } finally {
        assert.equal((await server.stop()).code, 0, server.stderr());
      }
    }
    const cached = await converse([]);
    const uncached = await converse(["--state-cache-mb", "0"]);
    for (let turn = 0; turn < 4; turn++) {
      assertSameTokens(cached[turn].tokens, uncached[turn].tokens, `turn ${turn + 1}`);
      assert.equal(cached[turn].usage.prompt_tokens, uncached[turn].usage.prompt_tokens);
    }
    assert.equal(cached[0].usage.prompt_tokens_details.cached_tokens, 0);
    for (let turn = 1; turn < 4; turn++) {
      // The previous turn's whole prompt is a prefix of this one: at least that much comes from the cache, and only
      // the rest is processed.
      const { prompt_tokens: promptTokens, prompt_tokens_details: details } = cached[turn].usage;
      assert.ok(
        details.cached_tokens >= cached[turn - 1].usage.prompt_tokens,
        `turn ${turn + 1}: ${details.cached_tokens} cached of ${promptTokens}, the previous prompt had ` +
          `${cached[turn - 1].usage.prompt_tokens}`,
      );
      assert.ok(details.cached_tokens < promptTokens);
    }
  });
});
