// The provenance log file format.
//
// A log file is frames back to back, from offset 0, and nothing else: an empty
// file is an empty log. One frame is
//
//   offset 0  u32 little-endian  length of the record in bytes (1 .. kMaxRecordSize)
//   offset 4  u32 little-endian  bitwise complement of the length
//   offset 8  length bytes       a serialized grantd.provenance.Record
//
// and the Record's prev_sha256 is the SHA-256 of the previous frame's record
// bytes (not of its header). Any protobuf tool can read the records: skip 8
// bytes, parse `length` bytes with provenance.proto, repeat.
//
// Why the complement: an append that a crash interrupted leaves a final frame
// that is short (header or body), or zero-filled when the file size reached
// the disk before the data did. Those are "torn" and may be cut off on request.
// A length that was damaged instead must not look torn (cutting there would
// discard every record after it), and a damaged length no longer matches its
// complement.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace grantd::audit {

inline constexpr std::size_t kFrameHeaderSize = 8;
// Far above any record grantd writes (a grant names a handful of objects);
// bounds what a reader allocates for a damaged or hostile length.
inline constexpr std::uint32_t kMaxRecordSize = 1u << 20;
// One interrupted append can leave at most this much behind.
inline constexpr std::size_t kMaxTornTail = kFrameHeaderSize + kMaxRecordSize;

inline std::array<std::uint8_t, kFrameHeaderSize> frame_header(std::uint32_t length)
{
	std::array<std::uint8_t, kFrameHeaderSize> header{};
	std::uint32_t check = ~length;
	for (int i = 0; i < 4; i++) {
		header[i] = static_cast<std::uint8_t>(length >> (8 * i));
		header[4 + i] = static_cast<std::uint8_t>(check >> (8 * i));
	}
	return header;
}

// The record length a header announces, or nothing if the header is damaged.
inline std::optional<std::uint32_t> frame_length(const std::uint8_t* header)
{
	std::uint32_t length = 0, check = 0;
	for (int i = 0; i < 4; i++) {
		length |= std::uint32_t{header[i]} << (8 * i);
		check |= std::uint32_t{header[4 + i]} << (8 * i);
	}
	if (check != ~length || length == 0 || length > kMaxRecordSize)
		return std::nullopt;
	return length;
}

} // namespace grantd::audit
