#include "CommandLine.h"

namespace granite::driver {

ParsedArgs::ParsedArgs(const std::string &command, const std::vector<std::string> &args,
                       const std::vector<FlagSpec> &flags) {
  bool onlyPositionals = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (onlyPositionals || arg.size() < 2 || arg[0] != '-') {
      positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      onlyPositionals = true;
      continue;
    }
    std::string name = arg, inlineValue;
    bool hasInline = false;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      name = arg.substr(0, eq);
      inlineValue = arg.substr(eq + 1);
      hasInline = true;
    }
    const FlagSpec *spec = nullptr;
    for (const auto &f : flags)
      if (f.name == name) spec = &f;
    if (!spec) throw UsageError("unknown option '" + name + "' (see 'granitec " + command + " --help')");
    if (!spec->takesValue) {
      if (hasInline) throw UsageError("option '" + name + "' takes no value");
      values_[name].push_back("");
    } else if (hasInline || i + 1 < args.size()) {
      std::vector<std::string> &given = values_[name];
      given.push_back(hasInline ? inlineValue : args[++i]);
      if (!spec->repeatable && given.front() != given.back())
        throw UsageError("option '" + name + "' is given twice, as '" + given.front() + "' and '" + given.back() + "'");
    } else {
      throw UsageError("option '" + name + "' needs a value");
    }
  }
}

std::optional<std::string> ParsedArgs::value(const std::string &flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::values(const std::string &flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

} // namespace granite::driver
