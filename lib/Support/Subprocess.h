// The one way granitec runs another program (the linker, llc, c++, a built executable): posix_spawnp, no shell,
// waited for, its stdout and stderr optionally captured.
#pragma once

#include <string>
#include <vector>

namespace granite::support {

/// Runs `argv` (argv[0] looked up in PATH) and waits for it. With `output`, what it prints on stdout and stderr is
/// appended there (through an unlinked temporary file); without, it goes to granitec's own. Returns false with
/// `error` set when it cannot start or does not exit normally (a signal); otherwise `exitStatus` is its exit status.
bool runProcess(const std::vector<std::string> &argv, int &exitStatus, std::string *output, std::string &error);

} // namespace granite::support
