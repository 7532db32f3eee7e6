// Typed parameters of a kernel instance, as the lowering describes it (granite.kernel_call's i64, f32 and
// #granite.format attributes), and the one conversion to Halide generator parameter strings. Only lib/Kernels turns
// parameters into strings: KernelCache (for the generator and its cache key), Tuning (for tuning-file keys), and
// the kernel symbol the lowering derives from the same strings (kernelInstanceName).
#pragma once

#include "Format/GGMLType.h"

#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>

namespace granite::kernels {

/// A shape or count, a constant baked into the instance, or a weight format.
using KernelParam = std::variant<int64_t, float, GGMLType>;
/// An instance's parameters by generator parameter name.
using KernelParams = std::map<std::string, KernelParam>;

/// Schedule knobs by generator parameter name, already strings: what `granitec tune` searches and tuning files
/// hold. A request's knobs override its family's schedule defaults.
using Knobs = std::map<std::string, std::string>;

/// The generator parameter strings of `params`: integers in decimal, floats with the digits that parse back to the
/// same f32, formats by mnemonic ("q4_k").
inline std::map<std::string, std::string> generatorParameters(const KernelParams &params) {
  std::map<std::string, std::string> text;
  for (const auto &[name, param] : params) {
    std::string &value = text[name];
    if (const int64_t *integer = std::get_if<int64_t>(&param)) {
      value = std::to_string(*integer);
    } else if (const float *number = std::get_if<float>(&param)) {
      char digits[32];
      std::snprintf(digits, sizeof digits, "%.9g", *number);
      value = digits;
    } else {
      value = std::string(traitsOf(std::get<GGMLType>(param)).mnemonic);
    }
  }
  return text;
}

/// Parameter `name` of `params` as a T. Throws std::invalid_argument naming it when it is missing or of another
/// type.
template <typename T> T paramAs(const KernelParams &params, const std::string &name) {
  auto found = params.find(name);
  if (found == params.end()) throw std::invalid_argument("kernel parameter " + name + " is missing");
  if (const T *value = std::get_if<T>(&found->second)) return *value;
  throw std::invalid_argument("kernel parameter " + name + " has the wrong type");
}

} // namespace granite::kernels
