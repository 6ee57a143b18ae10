// Provenance records as JSON lines, for auditors' tools (jq, SIEM import).
//
// One object per record:
//   {"seq":5,"wall_ns":"1767225605000000000","wall_time":"2026-01-01T00:00:05.000000000Z",
//    "boot_ns":"105000000000","boot_id":"<32 hex>","prev_sha256":"<64 hex>","sha256":"<64 hex>",
//    "kind":"grant","grant":{…the body's fields, named as in provenance.proto…}}
// - Nanosecond times, inode numbers and cgroup ids are decimal strings: they
//   use all 64 bits and a double (most JSON readers) would round them. Seqs
//   and grantd's own ids, uids and pids are numbers.
// - Rights are lists of names ("read", "write", …) plus the mask they came
//   from; hooks, verdicts and reasons are names (or the number if unknown).
// - Devices are "major:minor".
// - Text and paths are JSON strings when they are valid UTF-8; anything else
//   (a file name is any bytes but '/' and NUL) becomes an array of its byte
//   values, as journalctl -o json does, so that nothing is lost or guessed.
#pragma once

#include "audit/reader.h"
#include "audit/record.h"

#include <grantd/result.h>

#include <ostream>
#include <string>
#include <string_view>

namespace grantd::audit {

// A JSON value for text or bytes (see above), quotes included.
std::string json_text(std::string_view text);

// One object, no trailing newline.
std::string to_json(const Record& record);

// Writes the selected records, one per line; the report says whether the log
// verified (records after a failure are not written).
Result<VerifyReport> export_json_lines(const std::string& path, const RecordFilter& filter, std::ostream& out,
				       const std::optional<Head>& expected_head = std::nullopt);

} // namespace grantd::audit
