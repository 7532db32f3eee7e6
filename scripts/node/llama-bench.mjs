// llama.cpp's speed on a GGUF, for scripts/bench --vs-llama-cpp: node-llama-cpp's prebuilt CPU backend (no GPU, no
// build from source), the same thread count and the same token counts as the compiled executable's --bench.
//
//   node scripts/node/llama-bench.mjs --model FILE.gguf --threads T --runs 128:64,512:256
//
// Each run P:G mirrors `EXE --bench --bench-prompt P --bench-gen G` (runtime/ModelMain.cpp, runBench): an empty
// sequence, the same prompt ids ((i * 7919) mod the vocabulary, so embedding reads are not all one row, no BOS, no
// chat template), one prefill of all P tokens timed as a whole, then G greedy single-token evaluations timed as a
// whole. One warm-up token before the first run pages the weights in, as runBench's does. Prints one JSON object on
// stdout; llama.cpp's own log goes to stderr at warning level and above.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { readFileSync } from "node:fs";

function usage(message) {
  process.stderr.write(`llama-bench.mjs: ${message}\n` +
    "usage: node llama-bench.mjs --model FILE.gguf [--threads T] [--runs P:G[,P:G...]] [--batch N]\n");
  process.exit(2);
}

const args = { threads: 1, runs: "128:64", batch: 512 };
for (let i = 2; i < process.argv.length; i += 2) {
  const flag = process.argv[i], value = process.argv[i + 1];
  if (value === undefined) usage(`${flag} needs a value`);
  if (flag === "--model") args.model = value;
  else if (flag === "--threads") args.threads = Number(value);
  else if (flag === "--runs") args.runs = value;
  else if (flag === "--batch") args.batch = Number(value);
  else usage(`unknown flag ${flag}`);
}
if (!args.model) usage("--model is required");
if (!Number.isInteger(args.threads) || args.threads < 1) usage("--threads must be a positive integer");
const runs = args.runs.split(",").map((pair) => {
  const [p, g] = pair.split(":").map(Number);
  if (!Number.isInteger(p) || !Number.isInteger(g) || p < 1 || g < 1) usage(`bad run '${pair}' (want P:G)`);
  return { prompt: p, gen: g };
});

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

// The package's exports hide its package.json; it sits beside this script's node_modules.
const version = JSON.parse(readFileSync(new URL("./node_modules/node-llama-cpp/package.json", import.meta.url))).version;

const loadStart = process.hrtime.bigint();
// gpu: false picks the CPU-only prebuilt package (@node-llama-cpp/linux-x64 and the like); build: "never" makes a
// missing binary an error instead of a silent build from source.
const llama = await getLlama({
  gpu: false,
  build: "never",
  usePrebuiltBinaries: true,
  progressLogs: false,
  logLevel: LlamaLogLevel.warn,
  maxThreads: args.threads,
});
const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 0 });
const longest = Math.max(...runs.map((r) => r.prompt + r.gen));
const context = await model.createContext({
  contextSize: longest + 8,
  batchSize: Math.min(args.batch, Math.max(...runs.map((r) => r.prompt))),
  threads: { ideal: args.threads, min: args.threads },
  sequences: 1,
});
const sequence = context.getSequence();
const loadSeconds = seconds(loadStart);

const vocab = model.fileInsights?.vocabularySize ?? model.tokens?.vocabularySize ?? 100352;
const promptIds = (n) => Array.from({ length: n }, (_, i) => (i * 7919) % vocab);

// Warm-up: one token, then an empty sequence again.
await sequence.evaluateWithoutGeneratingNewTokens(promptIds(1));
await sequence.clearHistory();

const results = [];
for (const { prompt, gen } of runs) {
  await sequence.clearHistory();
  const ids = promptIds(prompt);
  let start = process.hrtime.bigint();
  await sequence.evaluateWithoutGeneratingNewTokens(ids);
  const prefillSeconds = seconds(start);

  // G single-token evaluations: the first feeds a fixed id (the prompt's logits are not read back by this API),
  // each later one the greedy pick of the one before; the G-th pick is not evaluated, as in runBench.
  start = process.hrtime.bigint();
  let produced = 0;
  for await (const _token of sequence.evaluate([ids[ids.length - 1]], { temperature: 0, yieldEogToken: true })) {
    if (++produced >= gen) break;
  }
  const decodeSeconds = seconds(start);
  if (produced < gen) throw new Error(`decode stopped after ${produced} of ${gen} tokens`);
  results.push({
    prompt, gen,
    prefill_s: prefillSeconds, prefill_tok_s: prompt / prefillSeconds,
    decode_s: decodeSeconds, decode_tok_s: gen / decodeSeconds,
  });
}

const release = llama.llamaCppRelease;
process.stdout.write(JSON.stringify({
  node_llama_cpp: version,
  llama_cpp_release: release?.release ?? null,
  build_type: llama.buildType,
  gpu: llama.gpu,
  threads: args.threads,
  context_threads: context.currentThreads ?? null,
  cpu_math_cores: llama.cpuMathCores,
  system_info: llama.systemInfo.trim(),
  load_s: loadSeconds,
  runs: results,
}) + "\n");

await context.dispose();
await model.dispose();
await llama.dispose();
