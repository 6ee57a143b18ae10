// The serialized form of a Record (what the log frames hold and hashes cover).
#pragma once

#include "audit/record.h"

#include <grantd/result.h>

#include <cstdint>
#include <span>
#include <vector>

namespace grantd::audit {

// sha256 and offset are not part of the serialized form and are ignored.
// Fails on text with an embedded NUL, which the C encoder cannot carry.
Result<std::vector<std::uint8_t>> encode(const Record& record);

// One record, without any chain check; sha256 and offset are left zero.
Result<Record> decode(std::span<const std::uint8_t> bytes);

} // namespace grantd::audit
