#include "Targets.h"

#include "CommandLine.h"
#include "Target/CpuFamily.h"
#include "runtime/CpuFeatures.h"

#include <iostream>
#include <sstream>

namespace granite::driver {
namespace {

const char *const kUsage = R"(usage: granitec targets

Lists the CPU families granitec compiles for (--target NAME, or a CPU name that is an alias of one): the CPU
features each needs (an executable refuses to start without them), what it enables in the Halide kernels and the
LLVM code around them, its default schedule knobs, and which family --target host picks on this machine and why.
)";

std::string joined(const std::vector<std::string> &items, const char *separator) {
  std::string text;
  for (const std::string &item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

/// The knobs of lib/Kernels/KernelCache.cpp's addFamilyDefaults, by their generator parameter names.
std::string scheduleKnobs(const target::ScheduleDefaults &d) {
  std::ostringstream out;
  out << "vector_width=" << d.vectorWidth << " (f32/f16/bf16 matvec: " << d.streamLanes
      << "), block-quantized matvec tile_rows=" << d.decodeRows << ", matmul tile_rows=" << d.prefillRows
      << " tile_tokens=" << d.prefillTokens << ", quantized_dot=" << (d.quantizedDot ? "true" : "false");
  if (d.quantizedDot)
    out << " (matmul tile_rows=" << d.quantizedRowGroups << " groups of 16 rows, tile_tokens=" << d.quantizedDotTokens
        << ", Q8_0 " << d.q8_0RowGroups << " x " << d.q8_0Tokens << ")";
  out << ", bf16_dot=" << (d.bf16Dot ? "true" : "false");
  if (d.amxMatmul)
    out << ", amx_matmul (BF16 matmul on AMX tiles, tile_rows=" << d.amxRows << " tile_tokens=" << d.amxTokens << ")";
  return out.str();
}

/// Whether this machine runs `family`, and if not, why.
std::string onThisMachine(const target::CpuFamily &family) {
  if (target::hostCanRun(family)) return "runs";
  std::string missing = target::hostMissingFeature(family);
  bool known = false;
  for (const auto &[name, has] : runtime::cpuFeatures()) known = known || name == missing;
  return known ? "does not run (this CPU lacks " + missing + ")" : "does not run (another architecture)";
}

void printHost(std::ostream &out) {
  std::string model = runtime::cpuModel();
  std::vector<std::string> present;
  for (const auto &[name, has] : runtime::cpuFeatures())
    if (has) present.push_back(name);
  out << "host: ";
  const target::CpuFamily *chosen = nullptr;
  for (const target::CpuFamily &family : target::allFamilies())
    if (target::hostCanRun(family)) chosen = &family; // the last, the most capable
  if (chosen)
    out << chosen->name << ", the most capable family whose every feature this CPU has\n";
  else
    out << "none: no family runs on this CPU\n";
  out << "  cpu:        " << (model.empty() ? "(model unknown)" : model) << "\n"
      << "  features:   " << (present.empty() ? "(none of those the families use)" : joined(present, " ")) << "\n";
}

} // namespace

int runTargets(const std::vector<std::string> &args) {
  try {
    ParsedArgs parsed("targets", args, {{"--help", false}, {"-h", false}});
    if (parsed.has("--help") || parsed.has("-h")) {
      std::cout << kUsage;
      return 0;
    }
    if (!parsed.positionals().empty())
      throw UsageError("unexpected argument '" + parsed.positionals().front() + "' (see 'granitec targets --help')");
  } catch (const UsageError &e) {
    std::cerr << "granitec: error: " << e.what() << "\n";
    return 2;
  }
  for (const target::CpuFamily &family : target::allFamilies()) {
    std::cout << family.name << ": " << family.summary << "\n"
              << "  aliases:    " << joined(family.aliases, ", ") << "\n"
              << "  needs:      " << joined(family.requiredFeatures, " ") << "\n"
              << "  enables:    Halide " << family.halideTarget << "; LLVM " << family.llvmTriple
              << " -mcpu=" << family.llvmCpu << " " << family.llvmFeatures
              << (family.kernelLlcAttributes.empty()
                      ? ""
                      : "; kernels llc -mcpu=sapphirerapids -mattr=" + family.kernelLlcAttributes)
              << "\n"
              << "  schedule:   " << scheduleKnobs(family.defaults) << "\n"
              << "  here:       " << onThisMachine(family) << "\n\n";
  }
  printHost(std::cout);
  return 0;
}

} // namespace granite::driver
