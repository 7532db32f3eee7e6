// `granitec inspect MODEL [--json]`: what a model file holds and whether granitec can compile it.
#pragma once

#include <string>
#include <vector>

namespace granite::driver {

extern const char *const kInspectHelp;

/// Runs the subcommand; returns the process exit code. Errors go to stderr as one line.
int runInspect(const std::vector<std::string> &args);

} // namespace granite::driver
