// libFuzzer target: the TOML profile parser and what consumes a parsed
// profile (baseline expansion and request evaluation). Any input may be
// rejected; none may crash, leak or trip a sanitizer, and the two entry
// points must agree on whether a profile is valid.
#include <grantd/policy.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	using namespace grantd::policy;
	const std::string_view text(reinterpret_cast<const char*>(data), size);
	auto profile = parse_profile(text, "fuzz.toml");
	auto errors = check_profile(text, "fuzz.toml");
	if (profile.ok() != errors.empty())
		std::abort(); // parse_profile and check_profile disagree
	if (!profile.ok())
		return 0;

	const Context context{"/home/fuzz/work", "/home/fuzz", "fuzz"};
	(void)expand_baseline(*profile, context);
	for (const auto& rule : profile->grantable) {
		Request request;
		request.rights = rule.rights;
		request.resources = rule.resources;
		request.ttl = Duration(60);
		request.purpose = "fuzz";
		(void)evaluate(*profile, request, context);
	}
	return 0;
}
