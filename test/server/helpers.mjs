// Shared pieces of the server tests: where the build and the golden models are, the pinned openai client, and
// starting an executable with `--serve --port 0` (the port is read from its "listening on http://HOST:PORT" line).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const buildDir = process.env.GRANITE_BUILD_DIR ?? join(root, "build");
export const goldenDir = process.env.GRANITE_GOLDEN_DIR ?? join(root, "..", "shared", "golden");

// The openai package is installed (pinned) in scripts/node, not beside this file.
const requireFromScripts = createRequire(join(root, "scripts", "node", "package.json"));
export const { OpenAI } = requireFromScripts("openai");

export function temporaryDirectory(t) {
  const dir = mkdtempSync(join(tmpdir(), "granite-server-test-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/// The real Granite vocabulary's cl100k ranks, which FakeGraniteCli builds its tokenizer from.
export function exportRanks(dir) {
  const file = join(dir, "cl100k.tiktoken");
  execFileSync("node", [join(root, "scripts", "node", "export-cl100k.mjs"), file], { stdio: "ignore" });
  return file;
}

/// FakeGraniteCli with the keyword model (test/runtime/FakeGraniteCli.cpp): "count" -> "one two ... ten",
/// "weather" -> a get_weather tool call, a tool response -> "The weather in Paris is sunny.", "tick" -> 2000 slow
/// ticks, anything else -> "done". Context: 2048 tokens.
export function startFakeServer(ranksFile, args = [], env = {}) {
  return startServer(join(buildDir, "bin", "FakeGraniteCli"), args, {
    GRANITE_FAKE_RANKS: ranksFile,
    GRANITE_FAKE_MODEL: "keywords",
    ...env,
  });
}

/// `granitec compile MODEL -o DIR/NAME` (kernels from the build's cache, as the C++ tests do).
export function compileGolden(model, dir, extraArgs = []) {
  const gguf = join(goldenDir, "models", `${model}.gguf`);
  if (!existsSync(gguf)) throw new Error(`golden model ${gguf} is missing (set GRANITE_GOLDEN_DIR)`);
  const output = join(dir, model);
  execFileSync(join(buildDir, "bin", "granitec"), ["compile", gguf, "-o", output, ...extraArgs], {
    env: { ...process.env, GRANITEC_KERNEL_CACHE: join(buildDir, "kernel-cache") },
    stdio: ["ignore", "ignore", "pipe"],
  });
  return output;
}

/// An executable of a model with random weights and the real vocabulary (granitec synth: 2 layers of h-350m, bf16),
/// cached in the build folder and rebuilt when granitec or the runtime changed.
export function syntheticModel() {
  const dir = join(buildDir, "synthetic-model");
  mkdirSync(dir, { recursive: true });
  const gguf = join(dir, "synth-h350m-2l.gguf");
  const exe = join(dir, "synth-h350m-2l");
  const granitec = join(buildDir, "bin", "granitec");
  const inputs = [granitec, join(buildDir, "lib", "libGraniteRuntime.a"), join(buildDir, "lib", "libGraniteModelMain.a")];
  const newest = Math.max(...inputs.filter(existsSync).map((f) => statSync(f).mtimeMs));
  if (!existsSync(gguf))
    execFileSync(granitec, ["synth", "--like", "h-350m", "--dtype", "bf16", "--layers", "2", "-o", gguf], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  if (!existsSync(exe) || statSync(exe).mtimeMs < newest)
    execFileSync(granitec, ["compile", gguf, "-o", exe], {
      env: { ...process.env, GRANITEC_KERNEL_CACHE: join(buildDir, "kernel-cache") },
      stdio: ["ignore", "ignore", "pipe"],
    });
  return exe;
}

/// Starts `executable --serve --port 0 ARGS` and resolves once it listens.
export function startServer(executable, args = [], env = {}) {
  const child = spawn(executable, ["--serve", "--port", "0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise((resolveExit) => child.on("exit", (code, signal) => resolveExit({ code, signal })));
  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rejectStart(new Error(`${executable} did not start listening within 60 s:\n${stderr}`));
    }, 60_000);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text) => {
      stderr += text;
      const match = /listening on (http:\/\/\S+)\n/.exec(stderr); // the whole line: stderr may come in pieces
      if (match && timer) {
        clearTimeout(timer);
        const url = match[1];
        resolveStart({
          url,
          child,
          exited,
          stderr: () => stderr,
          client: (options = {}) =>
            new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 60_000, ...options }),
          /// SIGTERM, then the exit status (SIGKILL after 20 s).
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return exited;
            child.kill("SIGTERM");
            const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
            const result = await exited;
            clearTimeout(killer);
            return result;
          },
        });
      }
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      rejectStart(new Error(`cannot start ${executable}: ${error.message}`));
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rejectStart(new Error(`${executable} exited (${code ?? signal}) before listening:\n${stderr}`));
    });
  });
}

/// fetch(), then the body as text and, where it parses, as JSON: {status, json, text, headers}.
export async function fetchJson(url, options) {
  const response = await fetch(url, options);
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}

/// POSTs `body` (a string, sent as is) and returns fetchJson's {status, json, text, headers}.
export function postRaw(url, path, body, headers = {}) {
  return fetchJson(url + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body,
  });
}

/// Checks OpenAI's error shape and returns the error object.
export function errorOf(assert, reply, status) {
  assert.equal(reply.status, status, reply.text);
  assert.ok(reply.json && reply.json.error, `an error object: ${reply.text}`);
  const { error } = reply.json;
  assert.equal(typeof error.message, "string");
  assert.equal(typeof error.type, "string");
  assert.ok("param" in error && "code" in error);
  return error;
}
