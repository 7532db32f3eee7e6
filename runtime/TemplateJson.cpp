#include "runtime/TemplateJson.h"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string_view>

namespace granite::runtime {
namespace {

/// A double as Python's float repr writes it (json.dumps does): the shortest digits that read back exactly,
/// positional for decimal exponents -4..15 (with ".0" when integral), else d.ddde+XX. nlohmann switches to the
/// exponent form one decade early (1e15 is "1e+15" there, "1000000000000000.0" in Python).
std::string pythonFloat(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string_view text(buffer, result.ptr - buffer); // [-]d[.ddd]e(+|-)XX
  std::string out;
  if (text.front() == '-') {
    out += '-';
    text.remove_prefix(1);
  }
  const size_t e = text.find('e');
  const int exponent = std::stoi(std::string(text.substr(e + 1)));
  std::string digits(text.substr(0, e));
  if (digits.size() > 1) digits.erase(1, 1); // the '.'
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += exponent < 0 ? "e-" : "e+";
    const std::string magnitude = std::to_string(std::abs(exponent));
    out += (magnitude.size() < 2 ? "0" : "") + magnitude;
  } else if (exponent < 0) {
    out += "0." + std::string(-exponent - 1, '0') + digits;
  } else if (static_cast<size_t>(exponent) + 1 < digits.size()) {
    out += digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
  } else {
    out += digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
  }
  return out;
}

void write(const nlohmann::ordered_json &value, std::string &out) {
  if (value.is_object()) {
    out += '{';
    bool first = true;
    for (const auto &[key, item] : value.items()) {
      if (!first) out += ", ";
      first = false;
      write(nlohmann::ordered_json(key), out);
      out += ": ";
      write(item, out);
    }
    out += '}';
  } else if (value.is_array()) {
    out += '[';
    for (size_t i = 0; i < value.size(); ++i) {
      if (i) out += ", ";
      write(value[i], out);
    }
    out += ']';
  } else if (value.is_number_float() && std::isfinite(value.get<double>())) {
    out += pythonFloat(value.get<double>());
  } else {
    // Other scalars: nlohmann's escaping (\" \\ \n \t \r \b \f, other controls as \u00XX) matches Python's.
    try {
      out += value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::strict);
    } catch (const nlohmann::json::type_error &e) {
      throw std::invalid_argument(std::string("cannot write JSON: ") + e.what());
    }
  }
}

} // namespace

std::string toTemplateJson(const nlohmann::ordered_json &value) {
  std::string out;
  write(value, out);
  return out;
}

} // namespace granite::runtime
