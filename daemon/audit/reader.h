// Reading a provenance log: its records in order, selected by a filter, each
// delivered only after the chain vouched for it (see scan.h).
#pragma once

#include "audit/record.h"
#include "audit/verify.h"

#include <grantd/result.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace grantd::audit {

// Every condition that is set must hold.
struct RecordFilter {
	// Records about the session: its opening and closing, derivations it
	// is part of, its requests and grants, the evaluations and approvals
	// of those requests, the revocations and expiries of those grants, and
	// its kernel decisions.
	std::optional<std::uint64_t> session_id;
	// Records about the grant: the grant, grants derived from it (at any
	// depth), its revocation (also as part of a cascade) and its expiry.
	// What led to it comes before it in the log: see History::grant_report.
	std::optional<std::uint64_t> grant_id;
	// Append time (wall clock), from inclusive, until exclusive.
	std::uint64_t from_wall_ns = 0;
	std::uint64_t until_wall_ns = UINT64_MAX;
	// Requests, grants and sessions that name this path or a path below it
	// (kernel decisions carry no path, only the object's device and inode).
	std::optional<std::string> path_prefix;
};

// Returns false to stop reading.
using Visitor = std::function<bool(const Record&)>;

// The report covers the whole log unless the visitor stopped early; records
// after a failure are never visited.
Result<VerifyReport> read_log(const std::string& path, const RecordFilter& filter, const Visitor& visit,
			      const std::optional<Head>& expected_head = std::nullopt);
Result<VerifyReport> read_log_buffer(std::span<const std::uint8_t> log, const RecordFilter& filter,
				     const Visitor& visit, const std::optional<Head>& expected_head = std::nullopt);

} // namespace grantd::audit
