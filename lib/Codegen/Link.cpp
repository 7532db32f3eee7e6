#include "Codegen/Link.h"

#include "runtime/Payload.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace granite::codegen {
namespace {

using runtime::kPayloadAlignment;
using runtime::PayloadEntry;
using runtime::PayloadSection;

/// The first line of the linker's output that names the problem, else its first line. collect2's closing
/// "ld returned 1 exit status" says nothing, and ld's "in function" lines only give context.
std::string firstErrorLine(const std::string &output) {
  std::string first;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.rfind("collect2:", 0) == 0) continue;
    if (first.empty()) first = line;
    for (const char *sign : {"error", "undefined reference", "multiple definition", "cannot "})
      if (line.find(sign) != std::string::npos) return line;
  }
  return first.empty() ? "the linker printed nothing" : first;
}

/// Runs `argv` and returns what it printed (stdout and stderr, through an unlinked temporary file). Returns false
/// with `error` set when it cannot start or does not exit normally; otherwise `status` is its exit status.
bool runCapturingOutput(const std::vector<std::string> &argv, int &status, std::string &output, std::string &error) {
  std::error_code noTemp;
  std::filesystem::path directory = std::filesystem::temp_directory_path(noTemp);
  std::string logPath = ((noTemp ? "/tmp" : directory) / "granitec-link-XXXXXX").string();
  int log = mkstemp(logPath.data());
  if (log < 0) {
    error = "cannot create a temporary file for the linker's output: " + std::string(std::strerror(errno));
    return false;
  }
  unlink(logPath.c_str());
  std::vector<char *> args;
  for (const std::string &arg : argv) args.push_back(const_cast<char *>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, log, 1);
  posix_spawn_file_actions_adddup2(&actions, log, 2);
  pid_t child = 0;
  int spawned = posix_spawnp(&child, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  int wait = 0;
  while (spawned == 0 && waitpid(child, &wait, 0) < 0 && errno == EINTR) {
  }
  char buffer[4096];
  for (ssize_t n, offset = 0; (n = pread(log, buffer, sizeof buffer, offset)) > 0; offset += n) output.append(buffer, n);
  close(log);
  if (spawned != 0) {
    error = "cannot run '" + argv[0] + "': " + std::strerror(spawned);
    return false;
  }
  if (!WIFEXITED(wait)) {
    error = "the linker '" + argv[0] + "' did not finish (signal " + std::to_string(WTERMSIG(wait)) + ")";
    return false;
  }
  status = WEXITSTATUS(wait);
  return true;
}

#if defined(__x86_64__)
constexpr const char *kHostArch = "x86_64";
#elif defined(__aarch64__)
constexpr const char *kHostArch = "aarch64";
#else
#error "granitec runs on x86-64 and aarch64 hosts"
#endif

/// The C++ driver, and the runtime archives in link order (ModelMain, Runtime, PCRE2).
struct Toolchain {
  std::string driver;
  std::vector<std::string> archives;
};

/// For the host's architecture (or an empty triple), `c++` and this build's archives; for aarch64 on an x86-64 host,
/// Debian's cross compiler and runtime/cross's archives, where granitec was built with them.
bool toolchainFor(const std::string &triple, Toolchain &toolchain, std::string &error) {
  const std::string arch = triple.substr(0, triple.find('-'));
  if (triple.empty() || arch == kHostArch) {
    toolchain = {"c++", {GRANITE_MODEL_MAIN_ARCHIVE, GRANITE_RUNTIME_ARCHIVE, GRANITE_PCRE2_ARCHIVE}};
    return true;
  }
#ifdef GRANITE_AARCH64_CXX
  if (arch == "aarch64") {
    toolchain = {GRANITE_AARCH64_CXX,
                 {GRANITE_AARCH64_MODEL_MAIN_ARCHIVE, GRANITE_AARCH64_RUNTIME_ARCHIVE, GRANITE_AARCH64_PCRE2_ARCHIVE}};
    return true;
  }
#endif
  if (arch == "aarch64")
    error = "cannot link for aarch64: this granitec was built without the aarch64 runtime (it needs "
            "aarch64-linux-gnu-g++ and the arm64 PCRE2 that scripts/setup fetches; then rebuild granitec)";
  else
    error = "no toolchain links code for '" + triple + "' on this " + kHostArch + " host";
  return false;
}

bool link(const LinkInputs &inputs, const std::string &executable, std::string &error) {
  Toolchain toolchain;
  if (!toolchainFor(inputs.targetTriple, toolchain, error)) return false;
  std::vector<std::string> argv = {toolchain.driver, "-o", executable};
  argv.insert(argv.end(), inputs.objectFiles.begin(), inputs.objectFiles.end());
  // main() comes from the ModelMain archive; the generated objects before it define what it calls.
  argv.insert(argv.end(), toolchain.archives.begin(), toolchain.archives.end());
  // libstdc++ and libgcc go in statically, so OUT needs only glibc (2.34 or newer) and runs on any Linux of its family;
  // the ModelMain archive's runtime/GlibcCompat.cpp stands in for the two newer glibc functions they call.
  argv.insert(argv.end(), {"-pthread", "-ldl", "-lm", "-static-libstdc++", "-static-libgcc",
                           "-Wl,--undefined=_dl_find_object,--undefined=arc4random"});
  int status = 0;
  std::string output;
  if (!runCapturingOutput(argv, status, output, error)) return false;
  if (status == 0) return true;
  error = "linking '" + inputs.outputPath + "' failed: " + firstErrorLine(output);
  return false;
}

/// Pads `out` with zeros to the next multiple of kPayloadAlignment and returns that offset.
uint64_t alignTo(std::ostream &out) {
  uint64_t offset = static_cast<uint64_t>(out.tellp());
  static const char zeros[kPayloadAlignment] = {};
  out.write(zeros, static_cast<std::streamsize>((kPayloadAlignment - offset % kPayloadAlignment) % kPayloadAlignment));
  return static_cast<uint64_t>(out.tellp());
}

bool writeSection(std::ostream &out, const SectionWriter &writer, const char *what, PayloadEntry &entry,
                  std::string &error) {
  uint64_t start = static_cast<uint64_t>(out.tellp());
  std::string writerError;
  if (!writer(out, writerError)) {
    error = std::string("cannot write the ") + what + ": " + writerError;
    return false;
  }
  if (!out) {
    error = std::string("cannot write the ") + what + ": " + std::strerror(errno);
    return false;
  }
  entry.size = static_cast<uint64_t>(out.tellp()) - start;
  return true;
}

SectionWriter bytesWriter(const void *data, size_t size) {
  return [data, size](std::ostream &out, std::string &) {
    out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size));
    return true;
  };
}

/// Appends the sections and the trailer to the linked executable (and writes the external blob).
bool appendPayload(const LinkInputs &inputs, const std::string &executable, const std::string &externalBlob,
                   std::string &error) {
  std::fstream out(executable, std::ios::in | std::ios::out | std::ios::binary);
  if (!out) {
    error = "cannot open the linked executable '" + executable + "': " + std::strerror(errno);
    return false;
  }
  out.seekp(0, std::ios::end);
  std::vector<PayloadEntry> entries;

  if (inputs.weightsExternal) {
    std::ofstream blob(externalBlob, std::ios::binary | std::ios::trunc);
    if (!blob) {
      error = "cannot create '" + externalBlob + "': " + std::strerror(errno);
      return false;
    }
    entries.push_back({PayloadSection::ExternalWeights, 0, 0});
    if (!writeSection(blob, inputs.writeWeights, "weight blob", entries.back(), error)) return false;
    blob.close();
    if (!blob) {
      error = "cannot write '" + externalBlob + "': " + std::strerror(errno);
      return false;
    }
  } else {
    entries.push_back({PayloadSection::Weights, alignTo(out), 0});
    if (!writeSection(out, inputs.writeWeights, "weight blob", entries.back(), error)) return false;
  }
  entries.push_back({PayloadSection::Vocabulary, alignTo(out), 0});
  if (!writeSection(out, bytesWriter(inputs.vocabulary.data(), inputs.vocabulary.size()), "vocabulary",
                    entries.back(), error))
    return false;
  entries.push_back({PayloadSection::ChatTemplate, alignTo(out), 0});
  if (!writeSection(out, bytesWriter(inputs.chatTemplate.data(), inputs.chatTemplate.size()), "chat template",
                    entries.back(), error))
    return false;

  auto trailer = runtime::encodePayloadTrailer(entries);
  out.write(reinterpret_cast<const char *>(trailer.data()), trailer.size());
  out.close();
  if (!out) {
    error = "cannot write '" + executable + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

} // namespace

bool linkExecutable(const LinkInputs &inputs, std::string &error) {
  if (!inputs.writeWeights) {
    error = "no weight blob to write";
    return false;
  }
  const std::string suffix = ".tmp" + std::to_string(getpid());
  const std::string executable = inputs.outputPath + suffix;
  const std::string finalBlob = inputs.outputPath + ".weights";
  const std::string externalBlob = finalBlob + suffix;
  auto cleanUp = [&] {
    std::remove(executable.c_str());
    std::remove(externalBlob.c_str());
  };
  if (!link(inputs, executable, error) || !appendPayload(inputs, executable, externalBlob, error)) {
    cleanUp();
    return false;
  }
  // The blob goes first, so OUT never exists without its weights. An embedded build drops a stale OUT.weights
  // from an earlier external build, which would otherwise look like it belongs to this executable.
  if (inputs.weightsExternal ? std::rename(externalBlob.c_str(), finalBlob.c_str()) != 0
                             : std::remove(finalBlob.c_str()) != 0 && errno != ENOENT) {
    error = "cannot put '" + finalBlob + "' in place: " + std::strerror(errno);
    cleanUp();
    return false;
  }
  if (std::rename(executable.c_str(), inputs.outputPath.c_str()) != 0) {
    error = "cannot put '" + inputs.outputPath + "' in place: " + std::strerror(errno);
    cleanUp();
    return false;
  }
  return true;
}

} // namespace granite::codegen
