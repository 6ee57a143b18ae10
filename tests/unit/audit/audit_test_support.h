// Shared by the provenance log tests: scratch directories, file bytes, a
// clock that only moves when told to, and a plausible history.
#pragma once

#include "audit/provenance_log.h"
#include "audit/record.h"
#include "../test_support.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace grantd::audit::test {

// The audit tests' scratch directories are named for them.
class TempDir : public grantd::test::TempDir {
public:
	TempDir() : grantd::test::TempDir("grantd-audit") {}
};

inline std::vector<std::uint8_t> read_bytes(const std::string& path)
{
	std::ifstream in(path, std::ios::binary);
	return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes)
{
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

constexpr std::uint64_t kSecond = 1000000000ull;
// 2026-01-01T00:00:00Z: large enough that 64-bit handling matters.
constexpr std::uint64_t kEpoch = 1767225600ull * kSecond;

// Wall time kEpoch + t seconds, boot time 100 s + t seconds; t is set by the test.
struct ManualClock {
	std::shared_ptr<std::uint64_t> seconds = std::make_shared<std::uint64_t>(0);
	void set(std::uint64_t t) { *seconds = t; }
	std::function<Timestamps()> function() const
	{
		return [s = seconds] { return Timestamps{kEpoch + *s * kSecond, (100 + *s) * kSecond}; };
	}
};

inline OpenOptions test_options(const ManualClock& clock = {})
{
	OpenOptions options;
	options.clock = clock.function();
	options.boot_id = BootId{0xb0, 0x07, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
	return options;
}

inline Request sample_request(std::uint64_t id, const std::string& purpose = "fix the parser")
{
	Request request;
	request.request_id = id;
	request.session_id = 3;
	request.requester = {4242, 1000, 777};
	request.rights = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
	request.resources = {"/home/u/proj/src"};
	request.ttl_ns = 300 * kSecond;
	request.purpose = purpose;
	return request;
}

// Appends n requests with distinct purposes; returns the records.
inline std::vector<Record> append_requests(ProvenanceLog& log, int n)
{
	std::vector<Record> records;
	for (int i = 1; i <= n; i++) {
		auto id = static_cast<std::uint64_t>(i);
		auto record = log.append(sample_request(id, "purpose number " + std::to_string(i)));
		EXPECT_TRUE(record.ok()) << (record.ok() ? "" : record.error().message);
		if (record.ok())
			records.push_back(std::move(*record));
	}
	return records;
}

} // namespace grantd::audit::test
