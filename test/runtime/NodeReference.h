// Runs the node scripts in scripts/node (js-tiktoken as the independent reference) and returns the files they write
// into the build tree. A missing node or npm package is a test failure, never a skip: scripts/setup installs both.
#pragma once

#include <string>

namespace granite::runtime::testing {

/// Runs `node scripts/node/<script> <output>` unless <output> (under the build dir) is newer than the script and the
/// installed packages; returns <output>'s path. Throws std::runtime_error with node's exit status on failure.
std::string nodeReferenceFile(const std::string &script, const std::string &outputName);

/// The cl100k_base ranks exported by export-cl100k.mjs (tiktoken file format).
std::string cl100kRanksFile();

} // namespace granite::runtime::testing
