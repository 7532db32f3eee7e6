// granitec: the driver. Dispatches subcommands; each lives in its own file.
#include "Compile.h"
#include "Inspect.h"
#include "Synth.h"
#include "Targets.h"
#include "Tune.h"

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#ifndef GRANITEC_VERSION
#define GRANITEC_VERSION "unknown"
#endif

namespace {

const char *const kUsage = R"(usage: granitec <command> [options]

granitec compiles IBM Granite 4.0 language models ahead of time.

commands:
  inspect MODEL.gguf [--json]   show a model's architecture, variant, layer map, hyperparameters and tensors
  compile MODEL -o OUT          compile a GGUF file into an executable (--emit=mlir|llvm|obj: the stages)
  synth --like VARIANT ...      write a synthetic model with a variant's shapes, tokenizer and random weights
  tune MODEL [--budget S]       search the kernels' schedule knobs on this machine; writes a tuning file for compile
  targets                       list the CPU families for --target, their aliases and features, and what host picks

options:
  -h, --help                    show this help ('granitec <command> --help' for a command's options)
  --version                     print the version
)";

} // namespace

int main(int argc, char **argv) {
  // Past a file size limit (ulimit -f), a write fails with EFBIG and is reported like a full disk, instead of the
  // signal killing granitec halfway through a file.
  std::signal(SIGXFSZ, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args.front();
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "granitec " << GRANITEC_VERSION << "\n";
    return 0;
  }
  if (command == "inspect") return granite::driver::runInspect(rest);
  if (command == "compile") return granite::driver::runCompile(rest);
  if (command == "synth") return granite::driver::runSynth(rest);
  if (command == "tune") return granite::driver::runTune(rest);
  if (command == "targets") return granite::driver::runTargets(rest);
  std::cerr << "granitec: error: unknown command '" << command << "' (see 'granitec --help')\n";
  return 2;
}
