// libFuzzer target: the provenance log reader and verifier, over a log in
// memory. A damaged log must be reported, never crash the reader; every
// record the reader hands out must format as JSON; and the verifier and the
// reader must agree on how many records are intact.
#include "audit/json.h"
#include "audit/reader.h"
#include "audit/verify.h"

#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	using namespace grantd::audit;
	const std::span<const std::uint8_t> log(data, size);
	auto verified = verify_buffer(log);
	std::uint64_t visited = 0;
	auto read = read_log_buffer(log, RecordFilter{}, [&](const Record& record) {
		++visited;
		if (to_json(record).empty())
			std::abort();
		return true;
	});
	if (verified.ok() != read.ok())
		std::abort();
	if (verified.ok() && (verified->count != read->count || visited > read->count ||
			      verified->ok() != read->ok()))
		std::abort(); // verifier and reader disagree on the same bytes
	return 0;
}
