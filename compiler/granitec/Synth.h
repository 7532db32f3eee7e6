// `granitec synth --like VARIANT --dtype f32|bf16|q8_0|q4_k_m -o FILE.gguf`: a synthetic model with a published
// variant's shapes, metadata, tokenizer and chat template, and seeded random weights.
#pragma once

#include <string>
#include <vector>

namespace granite::driver {

extern const char *const kSynthHelp;

/// Runs the subcommand; returns the process exit code (2 for bad flags). Errors go to stderr as one line.
int runSynth(const std::vector<std::string> &args);

} // namespace granite::driver
