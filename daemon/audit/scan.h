// Internal: one pass over a log's frames, shared by verification, the
// writer's recovery and the readers.
#pragma once

#include "audit/verify.h"

#include <grantd/result.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace grantd::audit {

class ByteSource {
public:
	virtual ~ByteSource() = default;
	// Fills up to size bytes; fewer only at the end of the input.
	virtual Result<std::size_t> read(std::uint8_t* out, std::size_t size) = 0;
};

class BufferSource : public ByteSource {
public:
	explicit BufferSource(std::span<const std::uint8_t> data) : data_(data) {}
	Result<std::size_t> read(std::uint8_t* out, std::size_t size) override;

private:
	std::span<const std::uint8_t> data_;
};

// Reads with pread from offset 0, so it does not disturb the fd's position.
class FileSource : public ByteSource {
public:
	explicit FileSource(int fd) : fd_(fd), buffer_(1 << 16) {}
	Result<std::size_t> read(std::uint8_t* out, std::size_t size) override;

private:
	int fd_;
	std::uint64_t file_offset_ = 0;
	std::vector<std::uint8_t> buffer_;
	std::size_t begin_ = 0, end_ = 0;
};

// Returns false to stop reading.
using RecordVisitor = std::function<bool(const Record&)>;

// The visitor sees exactly the records the report counts: a record is held
// back until the next frame was checked, so that the record a chain break
// exposes (the earlier of the two) is never visited.
Result<VerifyReport> scan(ByteSource& source, const std::optional<Head>& expected_head,
			  const RecordVisitor* visit);

} // namespace grantd::audit
