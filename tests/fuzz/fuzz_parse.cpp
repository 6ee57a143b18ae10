// libFuzzer target: the small parsers every profile, CLI flag and D-Bus
// argument goes through (durations, paths, IP prefixes, resources, rights,
// the daemon's endpoint notation). The first byte picks the parser. What a
// parser accepts must survive a round trip through its printer unchanged.
#include "maps_writer.h"

#include <grantd/policy.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(bool condition)
{
	if (!condition)
		std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	using namespace grantd::policy;
	if (size == 0)
		return 0;
	const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		if (auto d = parse_duration(text); d.ok()) {
			auto again = parse_duration(format_duration(*d));
			check(again.ok() && *again == *d);
		}
		break;
	case 1:
		if (auto p = normalize_path(text); p.ok()) {
			auto again = normalize_path(*p);
			check(again.ok() && *again == *p);
			check(path_within(*p, *p));
		}
		break;
	case 2:
		if (auto p = parse_ip_prefix(text); p.ok()) {
			auto again = parse_ip_prefix(to_string(*p));
			check(again.ok() && *again == *p);
		}
		break;
	case 3:
		if (auto r = parse_resource(text); r.ok()) {
			auto again = parse_resource(to_string(*r));
			check(again.ok() && *again == *r);
			check(resource_within(*r, *r));
		}
		break;
	case 4:
		if (auto r = right_from_name(text))
			check(right_name(*r) == text);
		break;
	case 5:
		(void)grantd::parse_endpoint(std::string(text));
		break;
	}
	return 0;
}
