// `granitec compile MODEL --emit=mlir [--emit-after=PASS] [-o FILE]`: the model as granite IR, at any stage.
#pragma once

#include <string>
#include <vector>

namespace granite::driver {

extern const char *const kCompileHelp;

/// Runs the subcommand; returns the process exit code. Errors go to stderr as one line.
int runCompile(const std::vector<std::string> &args);

} // namespace granite::driver
