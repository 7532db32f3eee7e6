// Writes the tokenizer exactness corpus with js-tiktoken's cl100k_base ids as the expected answer, one JSON object
// {"text": ..., "ids": [...]} per line. The corpus is generated from a fixed seed, so every run writes the same
// file. Long pieces stay below ~400 bytes because js-tiktoken's reference BPE is cubic in the piece length.
// Usage: node cl100k-corpus.mjs OUTPUT_FILE [COUNT]
import { writeFileSync } from "node:fs";
import { getEncoding } from "js-tiktoken";

const output = process.argv[2];
const count = Number.parseInt(process.argv[3] ?? "12000", 10);
if (!output || !(count > 0)) {
  console.error("usage: node cl100k-corpus.mjs OUTPUT_FILE [COUNT]");
  process.exit(2);
}

// mulberry32: a tiny seeded PRNG, so the corpus does not depend on Math.random.
let state = 0x9e3779b9;
function random() {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const pick = (items) => items[int(0, items.length - 1)];
const repeat = (n, make) => Array.from({ length: n }, make);

const words = ("the of and to in is that it was for on are as with his they at be this from have or by one had " +
  "not but what all were when we there can an your which their said if do will each about how up out them then " +
  "she many some so these would other into has more her two like him see time could no make than first been its " +
  "who now people my made over did down only way find use may water long little very after words called just " +
  "where most know tokenizer compiler granite mamba attention embedding vocabulary internationalization " +
  "antidisestablishmentarianism Pneumonoultramicroscopicsilicovolcanoconiosis don't won't it's I'm you're we've " +
  "they'll she'd DON'T WON'T IT'S I'M YOU'RE WE'VE THEY'LL SHE'D O'Neill rock'n'roll").split(" ");
const punctuation = [".", ",", "!", "?", ";", ":", "...", " -", " —", "'", "\"", "(", ")", "[", "]", "?!", "…"];
const whitespace = [" ", "  ", "\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", "   \n\n  ", "\u00a0", "\u3000",
  "\u2028", "\ufeff", "\u0085", "\u200b", "\v", "\f", "\u2003", " \t \t"];
const emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🇯🇵", "❤️", "🔥", "🤖", "🧠", "✅", "⚠️", "🏳️‍🌈", "1️⃣", "🫠"];
const scripts = {
  cjk: "我们的模型将文本转换为令牌，然后计算下一个词的概率。東京都は日本の首都です。ひらがなとカタカナ、漢字。",
  korean: "안녕하세요 세계 토크나이저는 바이트 수준의 BPE를 사용합니다",
  arabic: "مرحبا بالعالم، هذا نص عربي مع أرقام ١٢٣ و 456.",
  hebrew: "שלום עולם, זה טקסט בעברית עם ניקוד: שָׁלוֹם",
  hindi: "नमस्ते दुनिया, यह हिंदी पाठ है। संख्या १२३४",
  thai: "สวัสดีชาวโลก นี่คือข้อความภาษาไทย",
  russian: "Привет, мир! Это русский текст с ЗАГЛАВНЫМИ буквами.",
  greek: "Γειά σου Κόσμε, ΑΥΤΌ είναι ελληνικά.",
  combining: "e\u0301 a\u0308 n\u0303 Z\u0351\u0327\u0334a\u0352\u0336l\u0313g\u0336\u0353o\u0301 \u1100\u1161\u11a8",
};
const codePointRanges = [[0x20, 0x7e], [0x00, 0x1f], [0x80, 0xff], [0x100, 0x24f], [0x300, 0x36f], [0x370, 0x3ff],
  [0x400, 0x4ff], [0x590, 0x5ff], [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe5b], [0x2000, 0x206f],
  [0x20a0, 0x20bf], [0x2100, 0x214f], [0x2190, 0x21ff], [0x2200, 0x22ff], [0x2500, 0x257f], [0x3000, 0x303f],
  [0x3041, 0x30ff], [0x4e00, 0x9fa5], [0xac00, 0xd7a3], [0xe000, 0xe0ff], [0xfe00, 0xfe0f], [0xff01, 0xff5e],
  [0x1f300, 0x1f64f], [0x1d400, 0x1d44f], [0x10000, 0x1000b]];

const sentence = () => {
  const ws = repeat(int(3, 18), () => pick(words));
  ws[0] = ws[0][0].toUpperCase() + ws[0].slice(1);
  return ws.join(" ") + pick([".", "!", "?", "...", ""]);
};
const generators = [
  () => repeat(int(1, 5), sentence).join(pick([" ", "  ", "\n", "\n\n"])),
  () => repeat(int(4, 30), () => pick(random() < 0.8 ? words : punctuation)).join(pick([" ", "", " "])),
  () => { // code
    const name = pick(["compute", "parseHeader", "__init__", "main", "tokenize_all", "xs"]);
    return pick([
      `def ${name}(self, x, y=42):\n    \"\"\"Doc.\"\"\"\n    return [i * 2 for i in range(x) if i % 3 == 0]\n`,
      `int ${name}(const char *s) {\n\tif (!s) return -1;\n\tfor (int i = 0; s[i]; ++i) { n += s[i] == '\\n'; }\n\treturn n;\n}\n`,
      `const ${name} = async (a, b) => { await fetch(\`/api/\${a}?q=\${b}\`); return a ?? b; };`,
      `#include <stdio.h>\r\nint main(void) {\r\n    printf("%d\\n", ${int(0, 99999)});\r\n}\r\n`,
      `SELECT id, name FROM users WHERE age >= ${int(1, 99)} AND name LIKE '%${name}%';`,
      `    if x==1:\n        pass\n\n\n    elif   x  !=  2 :\n\t\tbreak`,
      `<div class="a-b" id='${name}'>&amp; &#x27;</div>\n<!-- ${name} -->`,
      `$ ./granitec --model=m.gguf -o out && echo "ok" || exit 1 # ${name}`,
    ]);
  },
  () => JSON.stringify({ id: int(0, 1e6), name: pick(words), tags: repeat(int(0, 4), () => pick(words)),
    nested: { ok: random() < 0.5, value: random() * 1000, list: [1, 2.5, -3e-7, null] } }, null, pick([0, 2, 4, "\t"])),
  () => repeat(int(1, 8), () => pick([String(int(0, 9)), String(int(0, 99999999)), (random() * 1e6).toFixed(int(0, 6)),
    `${int(1, 12)}/${int(1, 28)}/${int(1900, 2100)}`, `+1 (${int(100, 999)}) ${int(100, 999)}-${int(1000, 9999)}`,
    "3.14159265358979323846", "1,234,567.89", "0x" + int(0, 1e9).toString(16), "-" + int(0, 1e5), "١٢٣٤٥", "१२३", "½ ⅓ ²"]))
    .join(pick([" ", ",", "", "\n", " + "])),
  () => repeat(int(1, 12), () => pick(whitespace) + (random() < 0.6 ? pick(words) : "")).join(""),
  () => repeat(int(1, 6), () => pick([sentence(), pick(words), ""])).join("\r\n") + pick(["", "\r\n", "\r\n\r\n"]),
  () => repeat(int(1, 10), () => pick(emoji) + pick(["", " ", pick(words), "!"])).join(""),
  () => { const s = scripts[pick(Object.keys(scripts))]; const a = int(0, s.length - 1); return s.slice(a, a + int(1, 60)); },
  () => repeat(int(1, 40), () => String.fromCodePoint(int(...pick(codePointRanges)))).join(""),
  () => pick([() => pick(["a", "ab", "x", " ", "-", "=", "0", "é", "中", "🙂"]).repeat(int(2, 400)),
    () => repeat(int(50, 300), () => String.fromCharCode(int(97, 122))).join(""),
    () => repeat(int(20, 400), () => String.fromCharCode(pick([int(65, 90), int(97, 122), int(48, 57), 43, 47]))).join(""),
    () => String(int(1, 9)).repeat(int(10, 300))])(),
  () => repeat(int(1, 8), () => pick(["DON'T", "don't", "I'M", "i'm", "YOU'RE", "WE'VE", "THEY'LL", "SHE'D", "It'S",
    "'S", "'t", "'Re", "'rE", "'VE", "'ll", "'LL", "'lL", "'D", "'m", "''", "'", "O'NEILL", "’s", "'ſ", "'K", "'x"]))
    .join(pick(["", " ", "\n"])),
  () => pick(["<|endoftext|>", "<tool_call>", "</tool_call>", "<|end_of_text|>", "<|start_of_role|>user",
    "<|fim_prefix|>", "<think>"]) + pick(["", " ", sentence()]),
];

const encoding = getEncoding("cl100k_base");
const lines = [JSON.stringify({ text: "", ids: [] })];
for (let i = 1; i < count; ++i) {
  const text = generators[i % generators.length]();
  // Nothing is special in raw text: no allowed and no disallowed special tokens.
  lines.push(JSON.stringify({ text, ids: encoding.encode(text, [], []) }));
}
writeFileSync(output, lines.join("\n") + "\n");
console.log(`wrote ${lines.length} strings to ${output}`);
