// The writer of the provenance log (format: log_format.h, provenance.proto).
//
// Durability: with the default policy append() returns only after the new
// frames are on stable storage (one write, then fdatasync), so a record the
// authority was told about survives a crash, and a crash during an append
// leaves at most one torn final frame. A failed append leaves the file as it
// was before it and the head unchanged.
//
// One writer per file: open() takes an exclusive flock and fails if another
// process holds it. Not thread-safe; the daemon appends from its event loop.
#pragma once

#include "audit/record.h"
#include "audit/sha256.h"
#include "audit/verify.h"
#include "unique_fd.h"

#include <grantd/result.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace grantd::audit {

enum class Durability {
	// fdatasync before append() returns.
	sync_each_append,
	// Leave it to the page cache: only for scratch logs and tests.
	page_cache,
};

struct Timestamps {
	std::uint64_t wall_ns = 0; // CLOCK_REALTIME
	std::uint64_t boot_ns = 0; // CLOCK_BOOTTIME
};

// The clocks the daemon runs on.
Timestamps now();

struct OpenOptions {
	// A log whose final frame is torn (see Damage::torn_tail) is refused
	// unless this is set; then the torn bytes are cut off and described in
	// ProvenanceLog::repair() for the caller to report.
	bool truncate_torn_tail = false;
	// The head the daemon stored: the log must contain it (and so must
	// exist, if the head is past seq 0: a missing log is not recreated).
	std::optional<Head> expected_head;
	Durability durability = Durability::sync_each_append;
	// Defaults to now() and the kernel's boot id; tests pin them.
	std::function<Timestamps()> clock;
	std::optional<BootId> boot_id;
	// Called with each record once it is durable (the daemon forwards them
	// to journald and stores the new head).
	std::function<void(const Record&)> on_append;
};

// What open() cut off a log, by request.
struct Repair {
	std::uint64_t offset = 0;
	std::uint64_t bytes_removed = 0;
	std::string what; // the torn-tail failure's message
};

class ProvenanceLog {
public:
	// Creates the file (mode 0640) or opens it, reads it through and checks
	// the chain; a damaged log is refused with the failure's record number,
	// offset and description (verify() gives the same as a Failure value).
	// The final component may not be a symlink.
	static Result<ProvenanceLog> open(const std::string& path, OpenOptions options = {});

	ProvenanceLog(ProvenanceLog&&) noexcept = default;
	ProvenanceLog& operator=(ProvenanceLog&&) noexcept = default;

	// Assigns seq, times, boot id and prev_sha256, writes one frame and (by
	// policy) syncs. The returned record carries its sha256 and offset.
	Result<Record> append(Body body);
	// Several records with one write and one sync (a burst of kernel
	// decisions): all of them are appended, or none. They share one time.
	Result<std::vector<Record>> append(std::vector<Body> bodies);

	// The newest record (seq 0 for an empty log): store it outside the log.
	const Head& head() const { return head_; }
	std::uint64_t size() const { return size_; }
	const std::string& path() const { return path_; }
	const std::optional<Repair>& repair() const { return repair_; }

private:
	ProvenanceLog() = default;
	Result<void> roll_back(const Error& cause);

	std::string path_;
	UniqueFd fd_;
	OpenOptions options_;
	BootId boot_id_{};
	Head head_;
	std::uint64_t size_ = 0;
	std::optional<Repair> repair_;
	std::optional<Sha256Hasher> hasher_;
	// Set when a failed append could not be undone: the file may end in a
	// partial frame, so nothing more is appended until it is reopened.
	bool broken_ = false;
};

} // namespace grantd::audit
