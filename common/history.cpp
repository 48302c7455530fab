#include "common/history.hpp"

namespace fleetban::common {

std::string_view history_kind_name(HistoryKind kind) {
  switch (kind) {
    case HistoryKind::ban: return "ban";
    case HistoryKind::unban: return "unban";
    case HistoryKind::expired: return "expired";
    case HistoryKind::refused: return "refused";
  }
  return "ban";
}

std::optional<HistoryKind> history_kind_from(std::uint32_t value) {
  if (value > static_cast<std::uint32_t>(HistoryKind::refused)) return std::nullopt;
  return static_cast<HistoryKind>(value);
}

}  // namespace fleetban::common
