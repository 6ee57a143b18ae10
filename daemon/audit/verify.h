// Checking a provenance log: framing, parsing, sequence numbers, the hash
// chain, and optionally the head the daemon stored outside the log.
//
// The chain is not keyed: it shows that a log was edited, cut or reordered
// by anyone who did not also recompute every later hash. Whoever can rewrite
// the whole file can forge a consistent chain, so the daemon keeps the head
// (seq and hash of the newest record) outside the log and sends every
// record's hash to the journal as well; verify against that head.
#pragma once

#include "audit/record.h"

#include <grantd/result.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace grantd::audit {

enum class Damage {
	// The final frame is incomplete: a crash interrupted an append. The
	// records before it are intact and the frame may be cut off.
	torn_tail,
	// A frame header is damaged: its length does not match its check.
	bad_frame,
	// A record's bytes are not a Record.
	unparsable,
	// A record parses but a field every record needs is malformed.
	bad_field,
	// A seq is skipped: records were removed.
	sequence_gap,
	// A seq appears out of place: records were reordered or duplicated.
	out_of_order,
	// A record does not hash to the next record's prev_sha256: one of the
	// two was altered (reported at the earlier one).
	chain_broken,
	// The log ends before the expected head: its last records were removed.
	tail_missing,
	// The record at the expected head's seq has a different hash.
	head_mismatch,
};

const char* damage_name(Damage damage);

struct Failure {
	Damage kind = Damage::bad_frame;
	std::uint64_t record = 0; // 1-based position of the frame in the file
	std::uint64_t offset = 0; // byte offset of that frame
	std::string message;	  // "record 3 at offset 412: …", the whole story
};

struct VerifyReport {
	// The records before the failing one (all records if there is none).
	std::uint64_t count = 0;
	Head head;
	std::uint64_t valid_bytes = 0; // where those records end
	std::optional<Failure> failure;
	// A reader's visitor asked to stop: nothing after head was checked.
	bool stopped = false;

	bool ok() const { return !failure; }
};

// The error is for I/O (and libcrypto) failures; damage is in the report.
// Reading a log that a running grantd appends to may catch an append half
// done and report a torn tail that is not one; ask the daemon instead.
// Pass the head the daemon stored to also catch removal of the last records;
// a log that continues past that head is fine (the daemon may have crashed
// between appending and storing the new head).
Result<VerifyReport> verify(const std::string& path, const std::optional<Head>& expected_head = std::nullopt);
// The same over a log in memory: no files, no global state (fuzzing entry).
Result<VerifyReport> verify_buffer(std::span<const std::uint8_t> log,
				   const std::optional<Head>& expected_head = std::nullopt);

} // namespace grantd::audit
