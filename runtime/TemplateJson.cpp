#include "runtime/TemplateJson.h"

#include <stdexcept>

namespace granite::runtime {
namespace {

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
  } else {
    // Scalars: nlohmann's escaping (\" \\ \n \t \r \b \f, other controls as \u00XX) matches Python's.
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
