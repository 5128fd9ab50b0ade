#include "model/channel.hpp"

namespace chatctl::model {

std::string_view to_string(Validity v) {
  switch (v) {
    case Validity::valid: return "valid";
    case Validity::invalid: return "invalid";
    case Validity::invalid_temporarily: return "invalid-temporarily";
  }
  return "invalid";
}

std::optional<Validity> parse_validity(std::string_view s) {
  if (s == "valid") return Validity::valid;
  if (s == "invalid") return Validity::invalid;
  if (s == "invalid-temporarily") return Validity::invalid_temporarily;
  return std::nullopt;
}

}  // namespace chatctl::model
