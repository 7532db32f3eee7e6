#include "Codegen/Link.h"

#include "Support/AtomicFile.h"
#include "Support/Subprocess.h"
#include "runtime/Payload.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
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
  if (!support::runProcess(argv, status, &output, error)) return false;
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

/// Writes one section to `file`'s stream; throws support::FileError as soon as a write failed (a full disk).
bool writeSection(support::AtomicFile &file, const SectionWriter &writer, const char *what, PayloadEntry &entry,
                  std::string &error) {
  std::ostream &out = file.stream();
  uint64_t start = static_cast<uint64_t>(out.tellp());
  std::string writerError;
  const bool written = writer(out, writerError);
  file.check();
  if (!written) {
    error = std::string("cannot write the ") + what + ": " + writerError;
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
bool appendPayload(const LinkInputs &inputs, support::AtomicFile &executable, support::AtomicFile *externalBlob,
                   std::string &error) {
  std::ostream &out = executable.stream(); // at the end of what the linker wrote
  std::vector<PayloadEntry> entries;

  if (externalBlob) {
    entries.push_back({PayloadSection::ExternalWeights, 0, 0});
    if (!writeSection(*externalBlob, inputs.writeWeights, "weight blob", entries.back(), error)) return false;
  } else {
    entries.push_back({PayloadSection::Weights, alignTo(out), 0});
    if (!writeSection(executable, inputs.writeWeights, "weight blob", entries.back(), error)) return false;
  }
  entries.push_back({PayloadSection::Vocabulary, alignTo(out), 0});
  if (!writeSection(executable, bytesWriter(inputs.vocabulary.data(), inputs.vocabulary.size()), "vocabulary",
                    entries.back(), error))
    return false;
  entries.push_back({PayloadSection::VocabularyTrie, alignTo(out), 0});
  if (!writeSection(executable, bytesWriter(inputs.vocabularyTrie.data(), inputs.vocabularyTrie.size()),
                    "vocabulary trie", entries.back(), error))
    return false;
  entries.push_back({PayloadSection::ChatTemplate, alignTo(out), 0});
  if (!writeSection(executable, bytesWriter(inputs.chatTemplate.data(), inputs.chatTemplate.size()), "chat template",
                    entries.back(), error))
    return false;

  auto trailer = runtime::encodePayloadTrailer(entries);
  out.write(reinterpret_cast<const char *>(trailer.data()), trailer.size());
  return true;
}

} // namespace

bool linkExecutable(const LinkInputs &inputs, std::string &error) {
  if (!inputs.writeWeights) {
    error = "no weight blob to write";
    return false;
  }
  const std::string blobPath = inputs.outputPath + ".weights";
  try {
    support::AtomicFile executable(inputs.outputPath, 0777);
    std::optional<support::AtomicFile> externalBlob;
    if (inputs.weightsExternal) externalBlob.emplace(blobPath);
    if (!link(inputs, executable.temporaryPath(), error) ||
        !appendPayload(inputs, executable, externalBlob ? &*externalBlob : nullptr, error))
      return false;
    // The blob goes first, so OUT never exists without its weights. An embedded build drops a stale OUT.weights
    // from an earlier external build, which would otherwise look like it belongs to this executable.
    if (externalBlob) {
      externalBlob->commit();
    } else if (std::remove(blobPath.c_str()) != 0 && errno != ENOENT) {
      error = "cannot remove the stale '" + blobPath + "': " + std::strerror(errno);
      return false;
    }
    executable.commit();
    return true;
  } catch (const support::FileError &e) {
    error = e.what();
    return false;
  }
}

} // namespace granite::codegen
