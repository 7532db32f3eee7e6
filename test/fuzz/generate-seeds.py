#!/usr/bin/env python3
"""Writes the seed corpora and dictionaries of the libFuzzer harnesses (test/fuzz) from the golden models and the
test strings, so that no binary seed is checked in.

usage: generate-seeds.py GOLDEN_DIR OUT_DIR
OUT_DIR/<harness>/ gets the seeds of each harness, OUT_DIR/<harness>.dict its dictionary (libFuzzer's -dict)."""
import json
import os
import re
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CL100K_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class GGUF:
    """The header of a GGUF file: metadata, where the key-value section and the tensor table end."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.bytes = f.read()
        self.pos = 4
        self.version, self.tensor_count, self.kv_count = self.read("<I"), self.read("<Q"), self.read("<Q")
        self.metadata = {}
        for _ in range(self.kv_count):
            key = self.string()
            self.metadata[key] = self.value(self.read("<I"))
        self.kv_end = self.pos
        for _ in range(self.tensor_count):
            self.string()
            dims = self.read("<I")
            self.pos += 8 * dims + 4 + 8
        self.tensors_end = self.pos

    def read(self, fmt):
        (v,) = struct.unpack_from(fmt, self.bytes, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.read("<Q")
        s = self.bytes[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def value(self, kind):
        if kind == 8:
            return self.string()
        if kind == 9:
            element, n = self.read("<I"), self.read("<Q")
            return [self.value(element) for _ in range(n)]
        return self.read(SCALARS[kind])

    def without_tensors(self):
        """The header with an empty tensor table: it parses, and config validation runs on the metadata."""
        header = bytearray(self.bytes[:self.kv_end])
        struct.pack_into("<Q", header, 8, 0)
        return bytes(header)


def write(out, harness, name, data):
    os.makedirs(os.path.join(out, harness), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(out, harness, name), "wb") as f:
        f.write(data)


def write_dict(out, harness, words):
    """libFuzzer's dictionary format: one quoted word per line, other than printable ASCII as \\xNN."""
    quote = lambda b: chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\x{b:02x}"
    with open(os.path.join(out, harness + ".dict"), "w") as f:
        for word in sorted(set(words)):
            f.write('"' + "".join(quote(b) for b in word.encode("utf-8")) + '"\n')


def safetensors(tensors, pad=0):
    """A safetensors file: {name: (dtype, shape)} with zero data, offsets laid out in order."""
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1}
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, (dtype, shape) in tensors.items():
        n = sizes[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + bytes(offset)


def hf_config(hparams):
    layers = ["attention" if c == "A" else "mamba" for c in hparams["layer_types"]]
    config = {
        "architectures": ["GraniteMoeHybridForCausalLM"], "model_type": "granitemoehybrid",
        "hidden_size": hparams["n_embd"], "num_hidden_layers": len(layers), "layer_types": layers,
        "num_attention_heads": hparams["n_head"], "num_key_value_heads": hparams["n_head_kv"],
        "intermediate_size": hparams["n_ff"], "shared_intermediate_size": hparams["n_ff_shexp"],
        "num_local_experts": hparams["n_expert"], "num_experts_per_tok": hparams["n_expert_used"],
        "vocab_size": hparams["n_vocab"], "max_position_embeddings": hparams["ctx"],
        "position_embedding_type": "rope" if hparams["rope"] else "nope", "rope_theta": hparams["rope_theta"],
        "tie_word_embeddings": hparams["tied"], "rms_norm_eps": hparams["rms_eps"],
        "embedding_multiplier": hparams["embedding_scale"], "residual_multiplier": hparams["residual_scale"],
        "attention_multiplier": hparams["attention_scale"], "logits_scaling": hparams["logit_scale"],
    }
    if "mamba" in layers:
        config.update({"mamba_d_state": hparams["d_state"], "mamba_n_groups": hparams["n_group"],
                       "mamba_n_heads": hparams["n_ssm_head"], "mamba_d_head": hparams["ssm_head_dim"],
                       "mamba_d_conv": hparams["d_conv"], "mamba_expand": hparams["d_inner"] // hparams["n_embd"]})
    return config


def hf_tokenizer(gguf, sequence):
    """tokenizer.json and tokenizer_config.json of a GGUF's tokenizer metadata, as granite-write-hf writes them."""
    m = gguf.metadata
    tokens, types = m["tokenizer.ggml.tokens"], m["tokenizer.ggml.token_type"]
    vocab = {t: i for i, t in enumerate(tokens) if types[i] in (1, 6)}
    added = [{"id": i, "content": t, "special": types[i] != 4} for i, t in enumerate(tokens) if types[i] in (3, 4)]
    if sequence:
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CL100K_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]}
    else:
        pre = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}
    merges = m.get("tokenizer.ggml.merges", [])
    tokenizer = {"version": "1.0", "added_tokens": added, "pre_tokenizer": pre,
                 "model": {"type": "BPE", "vocab": vocab,
                           "merges": merges if sequence else [merge.split(" ", 1) for merge in merges]}}
    token = lambda key: tokens[m[key]] if key in m else None
    config = {"bos_token": token("tokenizer.ggml.bos_token_id"), "eos_token": token("tokenizer.ggml.eos_token_id"),
              "pad_token": token("tokenizer.ggml.padding_token_id"), "add_bos_token": False}
    if "tokenizer.chat_template" in m:
        config["chat_template"] = m["tokenizer.chat_template"]
    return json.dumps(tokenizer, ensure_ascii=False) + "\0" + json.dumps(config, ensure_ascii=False)


def test_schemas():
    """The schemas of test/server/structured-output.test.mjs (a JavaScript array, evaluated by node)."""
    source = open(os.path.join(ROOT, "test/server/structured-output.test.mjs"), encoding="utf-8").read()
    match = re.search(r"^const short = .*?^const schemas = \[.*?^\];", source, re.S | re.M)
    if not match:
        sys.exit("generate-seeds.py: no `const schemas = [...]` in test/server/structured-output.test.mjs")
    script = match.group(0) + "\nconsole.log(JSON.stringify(schemas));"
    return json.loads(subprocess.run(["node", "-e", script], check=True, capture_output=True, text=True).stdout)


def example(schema):
    """A value that the schema accepts in the common cases (the fuzzer mutates it into others)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return example(schema[key][0])
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {k: example(v) for k, v in schema.get("properties", {}).items() if k in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {"type": "integer"}))] * max(1, schema.get("minItems", 1))
    return {"string": "ab" * max(1, schema.get("minLength", 1)), "integer": schema.get("minimum", 3),
            "number": schema.get("minimum", 2.5), "boolean": True, "null": None}[kind]


TEXTS = [
    "Hello world! How are you today?",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "Ünïcödé façade, naïve café — 你好世界, こんにちは, 안녕하세요 😀👍🏽🇺🇸",
    "<|start_of_role|>user<|end_of_role|>What is 2+2?<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
    "  \t\n\n   12345678901234567890 3.14159 1e-9  ",
    "I'm sure they've done it, WE'LL see. It's isn't?",
]
INVALID_UTF8 = [b"\xff\xfe bad \xc3", b"ok \xe2\x82 half \xf0\x9f\x98", b"\xed\xa0\x80 surrogate \xc0\xaf overlong"]

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What's the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "content": "{\"temperature\": 21}"},
    {"role": "assistant", "content": "It is 21 °C in Paris."},
    {"role": "user", "content": [{"type": "text", "text": "Thanks! 👍"}, {"type": "text", "text": "More?"}]},
]
TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
                   "required": ["city"]}}}
DOCUMENTS = [{"doc_id": 1, "title": "Granite", "text": "Granite 4.0 mixes Mamba2 and attention layers."}]

REPLIES = [
    "<tool_call>\n{\"name\": \"get_current_weather\", \"arguments\": {\"city\": \"New York\"}}\n</tool_call>",
    "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n"
    "<tool_call>\n{\"name\": \"b\", \"arguments\": \"{\\\"y\\\": [2]}\"}\n</tool_call>",
    "<tool_call>\n{\"name\": \"x\", \"arguments\": {\n</tool_call><tool_call>\n{\"name\": \"ok\", \"arguments\": {}}"
    "\n</tool_call> and after",
    "no calls at all, just < and <tool and </tool_call>",
    "<tool_call>{\"name\": \"unterminated\"",
    "<|tool_call|>[{\"name\": \"f\", \"arguments\": {}}]",
]


def main():
    golden, out = sys.argv[1], sys.argv[2]
    models = os.path.join(golden, "models")
    ggufs = {name: GGUF(os.path.join(models, name)) for name in sorted(os.listdir(models)) if name.endswith(".gguf")}

    # GGUF: every model's metadata with no tensors (parses; config validation runs), and its full header with the
    # tensor table but no data (the data ranges are checked); shorter truncations of one.
    for name, g in ggufs.items():
        write(out, "fuzz_gguf", name + ".metadata", g.without_tensors())
        write(out, "fuzz_gguf", name + ".header", g.bytes[:g.tensors_end])
    first = next(iter(ggufs.values()))
    for cut in (4, 24, 64, 300):
        write(out, "fuzz_gguf", f"truncated-{cut}", first.bytes[:cut])
    gguf_words = ["GGUF"] + [k for g in ggufs.values() for k in g.metadata]
    gguf_words += [v for g in ggufs.values() for v in g.metadata.values() if isinstance(v, str) and len(v) < 64]
    write_dict(out, "fuzz_gguf", gguf_words)

    # safetensors: small files with the HF tensor names of each layer kind and the dtypes the reader knows.
    names = {"model.embed_tokens.weight": ("BF16", [8, 4]), "model.norm.weight": ("F32", [4]),
             "model.layers.0.mamba.A_log": ("F32", [2]), "model.layers.0.mamba.conv1d.weight": ("F16", [6, 1, 4]),
             "model.layers.1.self_attn.q_proj.weight": ("BF16", [4, 4]),
             "model.layers.1.block_sparse_moe.input_linear.weight": ("F32", [2, 4, 4])}
    write(out, "fuzz_safetensors", "layers", safetensors(names))
    write(out, "fuzz_safetensors", "padded", safetensors({"a": ("F32", [2, 2]), "b": ("I64", [1])}, pad=7))
    write(out, "fuzz_safetensors", "empty-tensor", safetensors({"e": ("U8", [0]), "s": ("F32", [])}))
    write_dict(out, "fuzz_safetensors", ["dtype", "shape", "data_offsets", "__metadata__", "F32", "F16", "BF16",
                                         "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E5M2", "F8_E4M3"])

    # config.json of each golden model (first byte odd: 512 embedding rows, the golden vocabulary).
    hparams = sorted(f for f in os.listdir(models) if f.endswith(".hparams.json"))
    config_words = []
    for f in hparams:
        config = hf_config(json.load(open(os.path.join(models, f))))
        write(out, "fuzz_hf_config", f.replace(".hparams", ""), "\x01" + json.dumps(config))
        config_words += list(config) + ["attention", "mamba", "rope", "nope", "granitemoehybrid"]
    write(out, "fuzz_hf_config", "small", "\x01" + json.dumps({"model_type": "granitemoehybrid", "hidden_size": 8}))
    write_dict(out, "fuzz_hf_config", config_words)

    # tokenizer.json + tokenizer_config.json from the golden tokenizer, in both pre-tokenizer forms.
    dense = ggufs.get("dense-q8_0.gguf", first)
    write(out, "fuzz_hf_tokenizer", "split-regex", hf_tokenizer(dense, True))
    write(out, "fuzz_hf_tokenizer", "byte-level", hf_tokenizer(dense, False))
    # A small one as well: mutations of a short text reach its structure (types of values) more often.
    write(out, "fuzz_hf_tokenizer", "small", json.dumps(
        {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
         "added_tokens": [{"id": 3, "content": "<s>", "special": True}], "pre_tokenizer": {"type": "ByteLevel"}})
        + "\0" + json.dumps({"bos_token": {"content": "<s>"}, "chat_template": "{{ x }}"}))
    write_dict(out, "fuzz_hf_tokenizer", ["model", "BPE", "vocab", "merges", "added_tokens", "pre_tokenizer",
                                          "Sequence", "pretokenizers", "Split", "ByteLevel", "use_regex", "pattern",
                                          "Regex", "special", "content", "id", "bos_token", "eos_token", "pad_token",
                                          "unk_token", "add_bos_token", "chat_template"])

    # Tokenizer: test texts, valid and not (first byte: the literal spans of encodeTemplate).
    tokens, types = dense.metadata["tokenizer.ggml.tokens"], dense.metadata["tokenizer.ggml.token_type"]
    specials = [t for t, kind in zip(tokens, types) if kind in (3, 4)]
    for i, text in enumerate(TEXTS):
        write(out, "fuzz_tokenizer", f"text-{i}", bytes([i * 37 % 256]) + text.encode())
    for i, text in enumerate(INVALID_UTF8):
        write(out, "fuzz_tokenizer", f"invalid-{i}", bytes([i]) + text)
    write_dict(out, "fuzz_tokenizer", specials + ["'s", "'ll", "\r\n", "\xa0"])

    # Chat template input: conversations with tools, documents and tool calls in history.
    chats = [{"messages": MESSAGES}, {"messages": MESSAGES[1:], "tools": [TOOL]},
             {"messages": MESSAGES[:2], "documents": DOCUMENTS, "add_generation_prompt": False},
             MESSAGES[1:2], {"messages": [{"role": "user", "content": None}], "tools": None},
             [{"role": "user", "content": [{"type": "text", "text": "a"}]}]]
    for i, chat in enumerate(chats):
        write(out, "fuzz_chat_template", f"chat-{i}", json.dumps(chat, ensure_ascii=False))
    chat_words = ["role", "content", "system", "user", "assistant", "tool", "tool_calls", "function", "name",
                  "arguments", "type", "text", "tools", "documents", "messages", "add_generation_prompt"]
    write_dict(out, "fuzz_chat_template", chat_words + specials)

    # Tool-call replies (first byte: the piece sizes of the stream).
    for i, reply in enumerate(REPLIES + TEXTS):
        write(out, "fuzz_tool_calls", f"reply-{i}", bytes([i * 29 % 256]) + reply.encode())
    write_dict(out, "fuzz_tool_calls", ["<tool_call>", "</tool_call>", "<tool_call>\n", "\n</tool_call>", "name",
                                        "arguments", "{", "}", "\"", "\\u"])

    # OpenAI requests (first byte odd: chat completions), over the features the server implements.
    schemas = test_schemas()
    chat = {"model": "granite", "messages": MESSAGES}
    requests = [
        dict(chat, temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, seed=7, max_tokens=16, stop=["\n\n", "END"]),
        dict(chat, tools=[TOOL], tool_choice="auto", stream=True, stream_options={"include_usage": True}),
        dict(chat, tools=[TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}}),
        dict(chat, response_format={"type": "json_object"}, logprobs=True, top_logprobs=3),
        dict(chat, response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schemas[-1]}}),
        dict(chat, logit_bias={"12": -100, "300": 5.5}, presence_penalty=0.5, frequency_penalty=-0.5,
             max_completion_tokens=8, n=1, user="u", metadata={"k": "v"}),
    ]
    for i, request in enumerate(requests):
        write(out, "fuzz_openai_request", f"chat-{i}", "\x01" + json.dumps(request, ensure_ascii=False))
    completions = [{"model": "granite", "prompt": "Once upon a time", "max_tokens": 5, "temperature": 0},
                   {"prompt": [1, 2, 300, 511], "stream": True, "stop": "x", "seed": 3},
                   {"prompt": ["one string"], "echo": False, "logprobs": 2}]
    for i, request in enumerate(completions):
        write(out, "fuzz_openai_request", f"completion-{i}", "\x00" + json.dumps(request))
    openai_words = chat_words + ["model", "temperature", "top_p", "top_k", "min_p", "seed", "max_tokens",
                                 "max_completion_tokens", "stop", "stream", "stream_options", "include_usage",
                                 "tool_choice", "auto", "none", "required", "response_format", "json_object",
                                 "json_schema", "schema", "strict", "logprobs", "top_logprobs", "logit_bias",
                                 "presence_penalty", "frequency_penalty", "prompt", "n", "user"]
    write_dict(out, "fuzz_openai_request", openai_words)

    # JSON schemas of the structured-output tests, each with a value it accepts after the NUL byte.
    for i, schema in enumerate(schemas):
        write(out, "fuzz_json_schema", f"schema-{i}",
              json.dumps(schema) + "\0" + json.dumps(example(schema), ensure_ascii=False))
    write_dict(out, "fuzz_json_schema", ["type", "object", "array", "string", "integer", "number", "boolean", "null",
                                         "properties", "required", "additionalProperties", "items", "minItems",
                                         "maxItems", "minLength", "maxLength", "minimum", "maximum", "enum", "const",
                                         "anyOf", "oneOf", "$ref", "$defs", "true", "false", "\\u00e9"])


if __name__ == "__main__":
    main()
