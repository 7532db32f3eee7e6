#!/usr/bin/env python3
"""Renders conversations with a chat template the way Hugging Face transformers' apply_chat_template does (jinja2's
ImmutableSandboxedEnvironment, trim_blocks and lstrip_blocks, HF's tojson, raise_exception and strftime_now). The
independent reference for ChatTemplateJinjaTest.

usage: render-chat-template.py TEMPLATE_FILE CASES_JSON OUTPUT_JSON
CASES_JSON: {"bos_token": S, "eos_token": S, "cases": [{"messages": [...], "tools": [...]|null,
             "documents": [...]|null, "add_generation_prompt": bool}, ...]}
OUTPUT_JSON: one entry per case, {"text": RENDERED} or {"error": MESSAGE}.
"""
import datetime
import json
import sys

import jinja2
import jinja2.ext
import jinja2.sandbox


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # HF replaces jinja2's tojson, which would HTML-escape <, >, & and '.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def strftime_now(format):
    return datetime.datetime.now().strftime(format)


def main():
    template_path, cases_path, output_path = sys.argv[1:4]
    with open(template_path, encoding="utf-8") as f:
        source = f.read()
    with open(cases_path, encoding="utf-8") as f:
        spec = json.load(f)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    template = env.from_string(source)

    results = []
    for case in spec["cases"]:
        try:
            text = template.render(
                messages=case["messages"], tools=case.get("tools"), documents=case.get("documents"),
                add_generation_prompt=case.get("add_generation_prompt", False),
                bos_token=spec.get("bos_token", ""), eos_token=spec.get("eos_token", ""))
            results.append({"text": text})
        except Exception as e:  # one broken case must not hide the others
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    # ASCII output: every code point survives as \u escapes whatever the reader's locale.
    with open(output_path, "w", encoding="ascii") as f:
        json.dump(results, f, ensure_ascii=True)


if __name__ == "__main__":
    main()
