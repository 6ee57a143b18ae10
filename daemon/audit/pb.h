// Internal: the protobuf-c side of the codec, for the log scanner, which
// checks header fields before (and often instead of) converting a record.
#pragma once

#include "audit/record.h"
#include "provenance.pb-c.h"

#include <memory>
#include <span>
#include <string>

namespace grantd::audit::pb {

struct RecordFree {
	void operator()(Grantd__Provenance__Record* record) const;
};
using RecordPtr = std::unique_ptr<Grantd__Provenance__Record, RecordFree>;

// Null when the bytes are not a Record.
RecordPtr unpack(std::span<const std::uint8_t> bytes);

// What is wrong with the fields every record must have, or "".
std::string header_problem(const Grantd__Provenance__Record& record);

// Requires header_problem(record) to be "".
Record to_record(const Grantd__Provenance__Record& record);

} // namespace grantd::audit::pb
