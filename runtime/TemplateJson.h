// JSON text the way the chat template's `tojson` filter writes it (Python json.dumps with ensure_ascii=False):
// keys in their given order, ", " between items, ": " after keys, non-ASCII characters kept as they are.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace granite::runtime {

/// Throws std::invalid_argument when a string in `value` is not valid UTF-8.
std::string toTemplateJson(const nlohmann::ordered_json &value);

} // namespace granite::runtime
