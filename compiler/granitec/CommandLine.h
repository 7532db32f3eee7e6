// A small command-line parser for granitec's subcommands: known flags (with or without a value), positionals,
// and one-line errors for anything else.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace granite::driver {

class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct FlagSpec {
  std::string name; ///< e.g. "--json"
  bool takesValue;
  bool repeatable = false; ///< may take several values (--target); otherwise two different values conflict
};

class ParsedArgs {
public:
  /// Parses `args` (the subcommand's own arguments). Accepts "--flag value" and "--flag=value".
  /// Throws UsageError naming the offending argument, or a flag given two different values.
  ParsedArgs(const std::string &command, const std::vector<std::string> &args, const std::vector<FlagSpec> &flags);

  bool has(const std::string &flag) const { return values_.count(flag) != 0; }
  /// The last value given for `flag`.
  std::optional<std::string> value(const std::string &flag) const;
  /// Every value given for `flag`, in order (a flag given several times).
  std::vector<std::string> values(const std::string &flag) const;
  const std::vector<std::string> &positionals() const { return positionals_; }

private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
};

} // namespace granite::driver
