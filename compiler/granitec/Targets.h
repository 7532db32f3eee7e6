// granitec targets: the CPU families, their aliases, features and schedule defaults, and the one host picks.
#pragma once

#include <string>
#include <vector>

namespace granite::driver {

/// Runs `granitec targets` with the arguments after the command; returns the exit status.
int runTargets(const std::vector<std::string> &args);

} // namespace granite::driver
