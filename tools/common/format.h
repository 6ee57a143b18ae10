// Text the tools print and parse: tables, times, ids.
#pragma once

#include <grantd/result.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grantd::tools {

// Columns padded to their widest cell; the last column is not padded.
void print_table(std::FILE* out, const std::vector<std::string>& headers,
		 const std::vector<std::vector<std::string>>& rows);

// Microseconds since the epoch as local "YYYY-MM-DD HH:MM:SS"; 0: "never".
std::string format_time(std::uint64_t usec);
// "in 4m30s", "expired", "never" relative to now_usec.
std::string format_remaining(std::uint64_t usec, std::uint64_t now_usec);
std::uint64_t now_usec();

// For --since/--until: "@SECONDS", "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" (local
// time; a trailing Z means UTC; a space may replace the T), "now", or
// "DURATION ago" / "-DURATION" (e.g. "-10m"). Microseconds since the epoch.
Result<std::uint64_t> parse_time(std::string_view text, std::uint64_t now_usec);

// A decimal id > 0 that fits the type.
std::optional<std::uint64_t> parse_id(std::string_view text, std::uint64_t max = UINT64_MAX);

// "a,b,c"
std::string join(const std::vector<std::string>& items, std::string_view sep = ",");
// Splits on commas, dropping empty items.
std::vector<std::string> split_commas(std::string_view text);

} // namespace grantd::tools
