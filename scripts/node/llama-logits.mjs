// llama.cpp's logits for given token ids, as an independent reference for a compiled executable's
// `--ids ... --logits FILE --greedy N --gen-logits FILE` (runtime/ModelMain.cpp): node-llama-cpp's prebuilt CPU
// backend, with the golden references' settings (../shared/golden/README.md): F32 KV cache, flash attention off,
// one sequence, the ids fed directly (no BOS, no tokenizer) as one batch.
//
//   node scripts/node/llama-logits.mjs --model FILE.gguf --ids 1,2,3 --logits FILE [--greedy N]
//                                      [--gen-logits FILE] [--threads T] [--batch B]
//
// --logits gets the logits of every prompt position, raw little-endian f32 [n_ids][n_vocab] (row p predicts
// position p+1). controlledEvaluate asks llama.cpp for every position's output in the same batch (--batch B: B ids
// per llama_decode instead); with the default greedy sampler (temperature 0, no penalties, no bias) the values it
// returns are llama_get_logits_ith's, unmodified. --greedy N then decodes N greedy tokens, one llama_decode of one
// token each (as the executable's decode), and --gen-logits gets the N rows they were picked from (row 0 = the last
// prompt row). Ties go to the lowest id, as the executable's greedy pick. Prints one JSON object on stdout:
// greedy_ids, greedy_top1_minus_top2, prompt_top1_minus_top2 (per prompt row), n_vocab, settings, llama.cpp's
// system info.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { readFileSync, writeFileSync } from "node:fs";

function usage(message) {
  process.stderr.write(`llama-logits.mjs: ${message}\n` +
    "usage: node llama-logits.mjs --model FILE.gguf --ids I,J,... --logits FILE [--greedy N] [--gen-logits FILE]" +
    " [--threads T] [--batch B]\n");
  process.exit(2);
}

const args = { threads: 2, greedy: 0 };
for (let i = 2; i < process.argv.length; i += 2) {
  const flag = process.argv[i], value = process.argv[i + 1];
  if (value === undefined) usage(`${flag} needs a value`);
  if (flag === "--model") args.model = value;
  else if (flag === "--ids") args.ids = value.split(",").map(Number);
  else if (flag === "--logits") args.logits = value;
  else if (flag === "--greedy") args.greedy = Number(value);
  else if (flag === "--gen-logits") args.genLogits = value;
  else if (flag === "--threads") args.threads = Number(value);
  else if (flag === "--batch") args.batch = Number(value);
  else usage(`unknown flag ${flag}`);
}
if (!args.model || !args.ids || !args.logits) usage("--model, --ids and --logits are required");
if (args.ids.length === 0 || !args.ids.every((id) => Number.isInteger(id) && id >= 0)) usage("bad --ids");
if (!Number.isInteger(args.greedy) || args.greedy < 0) usage("--greedy must be a non-negative integer");
if (args.genLogits && args.greedy === 0) usage("--gen-logits needs --greedy N");
if (!Number.isInteger(args.threads) || args.threads < 1) usage("--threads must be a positive integer");
if (args.batch !== undefined && !(Number.isInteger(args.batch) && args.batch >= 1))
  usage("--batch must be a positive integer");

const version = JSON.parse(readFileSync(new URL("./node_modules/node-llama-cpp/package.json", import.meta.url))).version;

// gpu: false and build: "never": the prebuilt CPU package or an error, never a silent build from source.
const llama = await getLlama({
  gpu: false,
  build: "never",
  usePrebuiltBinaries: true,
  progressLogs: false,
  logLevel: LlamaLogLevel.warn,
  maxThreads: args.threads,
});
const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 0 });
const context = await model.createContext({
  contextSize: args.ids.length + args.greedy + 8,
  batchSize: args.batch ?? args.ids.length, // by default the whole prompt in one llama_decode
  threads: { ideal: args.threads, min: args.threads },
  sequences: 1,
  flashAttention: false,
  experimentalKvCacheKeyType: "F32",
  experimentalKvCacheValueType: "F32",
});
const sequence = context.getSequence();

// The logits map of one output (token -> logit) as a dense row; every id must be present once.
let vocab = 0;
function denseRow(next, where) {
  const logits = next?.logits;
  if (!(logits instanceof Map)) throw new Error(`no logits for ${where}`);
  if (vocab === 0) vocab = logits.size;
  if (logits.size !== vocab) throw new Error(`${where}: ${logits.size} logits, expected ${vocab}`);
  const row = new Float32Array(vocab).fill(NaN);
  for (const [token, value] of logits) row[token] = value;
  if (row.some(Number.isNaN)) throw new Error(`${where}: the logits do not cover the vocabulary`);
  return row;
}
// Argmax with ties to the lowest id, and the gap to the runner-up.
function pick(row) {
  let best = 0;
  for (let i = 1; i < row.length; ++i) if (row[i] > row[best]) best = i;
  let second = -Infinity;
  for (let i = 0; i < row.length; ++i) if (i !== best && row[i] > second) second = row[i];
  return { id: best, gap: row[best] - second };
}

const all = { generateNext: { logits: true } };
const outputs = await sequence.controlledEvaluate(args.ids.map((id) => [id, all]));
const rows = args.ids.map((_, p) => denseRow(outputs[p]?.next, `prompt position ${p}`));
const promptFile = new Float32Array(rows.length * vocab);
rows.forEach((row, p) => promptFile.set(row, p * vocab));
writeFileSync(args.logits, Buffer.from(promptFile.buffer));

const greedyIds = [], gaps = [], genRows = [];
let last = rows[rows.length - 1];
for (let step = 0; step < args.greedy; ++step) {
  const { id, gap } = pick(last);
  greedyIds.push(id);
  gaps.push(gap);
  genRows.push(last);
  if (step + 1 < args.greedy) {
    const [out] = await sequence.controlledEvaluate([[id, all]]);
    last = denseRow(out?.next, `greedy step ${step + 1}`);
  }
}
if (args.genLogits) {
  const genFile = new Float32Array(genRows.length * vocab);
  genRows.forEach((row, k) => genFile.set(row, k * vocab));
  writeFileSync(args.genLogits, Buffer.from(genFile.buffer));
}

process.stdout.write(JSON.stringify({
  node_llama_cpp: version,
  llama_cpp_release: llama.llamaCppRelease?.release ?? null,
  system_info: llama.systemInfo.trim(),
  model: args.model,
  prompt_ids: args.ids,
  n_vocab: vocab,
  greedy_ids: greedyIds,
  greedy_top1_minus_top2: gaps,
  prompt_top1_minus_top2: rows.map((row) => pick(row).gap),
  threads: args.threads,
  context_threads: context.currentThreads ?? null,
  kv_type: "f32",
  flash_attn: context.flashAttention,
}) + "\n");

await context.dispose();
await model.dispose();
await llama.dispose();
