// `granitec tune MODEL [--budget SECONDS] [-o FILE]`: searches the schedule knobs of the model's linear products on
// this machine and writes the best into a tuning file (lib/Kernels/Tuning.h) for `granitec compile --tuning`.
#pragma once

#include <string>
#include <vector>

namespace granite::driver {

/// Runs the subcommand; returns the process exit code. Errors go to stderr as one line.
int runTune(const std::vector<std::string> &args);

} // namespace granite::driver
