// Writes js-tiktoken's cl100k_base ranks in tiktoken's file format ("<base64 bytes> <rank>" per line), the format
// runtime/TiktokenRanks.h reads. Usage: node export-cl100k.mjs OUTPUT_FILE
import { writeFileSync } from "node:fs";
import cl100k from "js-tiktoken/ranks/cl100k_base";

const output = process.argv[2];
if (!output) {
  console.error("usage: node export-cl100k.mjs OUTPUT_FILE");
  process.exit(2);
}

// bpe_ranks is js-tiktoken's compressed form: lines "<first token> <offset> <base64 token>...", where the k-th
// base64 token on a line has rank offset + k.
const lines = [];
for (const row of cl100k.bpe_ranks.split("\n")) {
  if (!row) continue;
  const [, offsetText, ...tokens] = row.split(" ");
  const offset = Number.parseInt(offsetText, 10);
  tokens.forEach((token, i) => lines.push(`${token} ${offset + i}`));
}
writeFileSync(output, lines.join("\n") + "\n");
console.log(`wrote ${lines.length} ranks to ${output}`);
