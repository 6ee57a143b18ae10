// Internal: text forms shared by the JSON export and the journal fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace grantd::audit {

// Well-formed UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool valid_utf8(std::string_view text);

// "2026-01-01T00:00:05.000000000Z"
std::string rfc3339(std::uint64_t wall_ns);

// "8:1" for the kernel's MAJOR << 20 | MINOR encoding.
std::string device_name(std::uint32_t dev);

} // namespace grantd::audit
