// Structured output end to end: a compiled model with random weights (granitec synth: 2 layers of h-350m, the real
// vocabulary) answers with response_format json_schema, and ajv (pinned in scripts/node) validates every complete
// reply. Random weights are the hard case: nothing but the token masks keeps the reply valid. Replies cut by
// max_tokens must say so (finish_reason "length") and are counted apart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { root, startServer, postRaw, errorOf, syntheticModel } from "./helpers.mjs";

const requireFromScripts = createRequire(join(root, "scripts", "node", "package.json"));
const Ajv = requireFromScripts("ajv");

const short = (extra = {}) => ({ type: "string", maxLength: 6, ...extra });

// At least one schema per supported keyword. Strings are short and arrays bounded so that most random replies end
// within max_tokens.
const schemas = [
  { type: "string", maxLength: 5 },
  { type: "string", minLength: 2, maxLength: 4 },
  { type: "integer" },
  { type: "integer", minimum: -20, maximum: 20 },
  { type: "integer", minimum: 1000, maximum: 1200 },
  { type: "number" },
  { type: "number", minimum: -1, maximum: 1 },
  { type: "number", minimum: 2.5, maximum: 7 },
  { type: "boolean" },
  { type: "null" },
  { type: ["integer", "null"] },
  { type: ["string", "boolean"], maxLength: 3 },
  { enum: ["red", "green", "blue"] },
  { enum: [1, "one", null, true, [1, 2], { a: 1 }] },
  { const: "fixed" },
  { type: "array", items: { type: "integer", minimum: 0, maximum: 9 }, maxItems: 4 },
  { type: "array", items: { type: "boolean" }, minItems: 2, maxItems: 3 },
  { type: "array", items: { enum: ["x", "y"] }, minItems: 1, maxItems: 1 },
  {
    type: "object",
    properties: { name: short(), age: { type: "integer", minimum: 0, maximum: 120 } },
    required: ["name", "age"],
    additionalProperties: false,
  },
  {
    type: "object",
    properties: { a: { type: "boolean" }, b: { type: "null" }, c: { const: 3 } },
    required: ["c"],
    additionalProperties: false,
  },
  { type: "object", properties: { only: { type: "integer" } }, additionalProperties: false },
  { type: "object", properties: {}, additionalProperties: false },
  { anyOf: [{ type: "integer", minimum: 0, maximum: 5 }, short(), { type: "null" }] },
  { oneOf: [{ type: "boolean" }, { type: "array", items: { type: "null" }, maxItems: 2 }] },
  {
    $defs: { point: { type: "object", properties: { x: { type: "integer" }, y: { type: "integer" } }, required: ["x", "y"], additionalProperties: false } },
    type: "object",
    properties: { from: { $ref: "#/$defs/point" }, to: { $ref: "#/$defs/point" } },
    required: ["from", "to"],
    additionalProperties: false,
  },
  {
    $defs: {
      tree: {
        type: "object",
        properties: { v: { type: "integer", minimum: 0, maximum: 9 }, kids: { type: "array", items: { $ref: "#/$defs/tree" }, maxItems: 2 } },
        required: ["v"],
        additionalProperties: false,
      },
    },
    $ref: "#/$defs/tree",
  },
  {
    type: "object",
    properties: {
      level1: {
        type: "object",
        properties: { level2: { type: "object", properties: { level3: { type: "array", items: short(), maxItems: 2 } }, required: ["level3"], additionalProperties: false } },
        required: ["level2"],
        additionalProperties: false,
      },
    },
    required: ["level1"],
    additionalProperties: false,
  },
  {
    type: "object",
    title: "annotations are fine",
    description: "ignored by the automaton, as by validation",
    properties: { status: { enum: ["ok", "error"] }, code: { type: ["integer", "null"], minimum: 100, maximum: 599 } },
    required: ["status", "code"],
    additionalProperties: false,
  },
  {
    type: "array",
    items: { type: "object", properties: { id: { type: "integer", minimum: 1, maximum: 99 }, tag: short({ minLength: 1 }) }, required: ["id", "tag"], additionalProperties: false },
    minItems: 1,
    maxItems: 2,
  },
  {
    type: "object",
    properties: {
      kind: { const: "event" },
      when: { type: "object", properties: { year: { type: "integer", minimum: 1900, maximum: 2100 }, month: { type: "integer", minimum: 1, maximum: 12 } }, required: ["year", "month"], additionalProperties: false },
      score: { type: "number", minimum: 0, maximum: 10 },
      flags: { type: "array", items: { type: "boolean" }, maxItems: 2 },
    },
    required: ["kind", "when", "score"],
    additionalProperties: false,
  },
];

// (temperature, seed) per schema: greedy once, then seeded draws.
const draws = [[0, 1], [1, 1], [1, 2], [1, 3], [1, 4], [2, 1], [2, 2], [2, 3]];

let server;
before(async () => {
  server = await startServer(syntheticModel());
});
after(async () => {
  if (server) await server.stop();
});

const ajv = new Ajv({ strict: false });

async function ask(body) {
  return postRaw(server.url, "/v1/chat/completions", JSON.stringify({ model: "m", messages: [{ role: "user", content: "Answer in JSON." }], ...body }));
}

test("every complete reply of a random-weight model is valid against its schema", { timeout: 600_000 }, async (t) => {
  assert.ok(schemas.length >= 30);
  let complete = 0;
  let incomplete = 0;
  const byTemperature = { 0: 0, 1: 0, 2: 0 };
  for (const [index, schema] of schemas.entries()) {
    const validate = ajv.compile(schema);
    for (const [temperature, seed] of draws) {
      const reply = await ask({
        response_format: { type: "json_schema", json_schema: { name: `s${index}`, strict: true, schema } },
        temperature,
        seed,
        max_tokens: 48,
      });
      assert.equal(reply.status, 200, reply.text);
      const choice = reply.json.choices[0];
      const where = `schema ${index} ${JSON.stringify(schema)} at temperature ${temperature} seed ${seed}: ${JSON.stringify(choice.message.content)}`;
      if (choice.finish_reason === "length") {
        incomplete++;
        continue;
      }
      assert.equal(choice.finish_reason, "stop", where);
      const value = JSON.parse(choice.message.content);
      assert.ok(validate(value), `${where}\n${ajv.errorsText(validate.errors)}`);
      complete++;
      byTemperature[temperature]++;
    }
  }
  t.diagnostic(`${complete} complete replies valid (by temperature ${JSON.stringify(byTemperature)}), ${incomplete} cut by max_tokens`);
  assert.ok(complete >= 200, `only ${complete} complete replies`);
  for (const temperature of [0, 1, 2]) assert.ok(byTemperature[temperature] > 0);
});

test("json_object replies are JSON objects", async () => {
  for (const [temperature, seed] of draws) {
    const reply = await ask({ response_format: { type: "json_object" }, temperature, seed, max_tokens: 48 });
    const choice = reply.json.choices[0];
    if (choice.finish_reason === "length") continue;
    const value = JSON.parse(choice.message.content);
    assert.equal(typeof value, "object");
    assert.ok(value !== null && !Array.isArray(value));
  }
});

test("a reply cut by max_tokens ends with finish_reason length", async () => {
  const reply = await ask({
    response_format: { type: "json_schema", json_schema: { name: "long", schema: { type: "array", items: { type: "integer" }, minItems: 50 } } },
    max_tokens: 5,
  });
  assert.equal(reply.json.choices[0].finish_reason, "length");
  assert.throws(() => JSON.parse(reply.json.choices[0].message.content));
});

test("tool_choice naming a function or required gives a call whose arguments validate against its parameters", async (t) => {
  const parameters = {
    type: "object",
    properties: { city: { type: "string", maxLength: 8 }, days: { type: "integer", minimum: 1, maximum: 7 }, unit: { enum: ["C", "F"] } },
    required: ["city", "days"],
    additionalProperties: false,
  };
  const tools = [
    { type: "function", function: { name: "get_weather", parameters } },
    { type: "function", function: { name: "get_time", parameters: { type: "object", properties: { zone: short() }, required: ["zone"] } } },
  ];
  const validate = ajv.compile(parameters);
  let calls = 0;
  for (const [temperature, seed] of draws) {
    const reply = await ask({ tools, tool_choice: { type: "function", function: { name: "get_weather" } }, temperature, seed, max_tokens: 64 });
    assert.equal(reply.status, 200, reply.text);
    const choice = reply.json.choices[0];
    if (choice.finish_reason === "length") continue;
    assert.equal(choice.finish_reason, "tool_calls", JSON.stringify(choice));
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0].function;
    assert.equal(call.name, "get_weather");
    const args = JSON.parse(call.arguments);
    assert.ok(validate(args), `${call.arguments}: ${ajv.errorsText(validate.errors)}`);
    calls++;
  }
  t.diagnostic(`${calls} of ${draws.length} calls complete and valid`);
  assert.ok(calls >= draws.length / 2);

  // "required" with several tools: a call of one of them, with arguments valid against that tool's parameters.
  const validators = Object.fromEntries(tools.map((tool) => [tool.function.name, ajv.compile(tool.function.parameters)]));
  let required = 0;
  for (const [temperature, seed] of draws) {
    const reply = await ask({ tools, tool_choice: "required", temperature, seed, max_tokens: 64 });
    const choice = reply.json.choices[0];
    if (choice.finish_reason === "length") continue;
    assert.equal(choice.finish_reason, "tool_calls", JSON.stringify(choice));
    const call = choice.message.tool_calls[0].function;
    assert.ok(call.name in validators, call.name);
    const check = validators[call.name];
    assert.ok(check(JSON.parse(call.arguments)), `${call.name} ${call.arguments}: ${ajv.errorsText(check.errors)}`);
    required++;
  }
  t.diagnostic(`tool_choice "required": ${required} of ${draws.length} calls complete and valid`);
  assert.ok(required >= draws.length / 2);
});

test("an unsupported keyword or an unsatisfiable schema is a 400 naming it", async () => {
  const pattern = await ask({ response_format: { type: "json_schema", json_schema: { name: "p", schema: { type: "string", pattern: "^a" } } } });
  const error = errorOf(assert, pattern, 400);
  assert.equal(error.param, "response_format.json_schema.schema");
  assert.match(error.message, /unsupported JSON Schema keyword 'pattern'/);
  const empty = await ask({ response_format: { type: "json_schema", json_schema: { name: "e", schema: { enum: [] } } } });
  assert.match(errorOf(assert, empty, 400).message, /no value satisfies the schema/);
  const tool = await ask({
    tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { x: { type: "string", format: "email" } } } } }],
    tool_choice: "required",
  });
  assert.equal(errorOf(assert, tool, 400).param, "tools[0].function.parameters");
});
