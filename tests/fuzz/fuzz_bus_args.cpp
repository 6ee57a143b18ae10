// libFuzzer target: the D-Bus argument decoders (daemon/bus/args.h) that
// every method call's strings go through. The first byte picks the decoder.
// Whatever the input, a decoder either returns a value or an
// InvalidArgument error that names the argument; what it accepts is
// canonical (decoding it again gives the same value).
#include "bus/args.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool condition)
{
	if (!condition)
		std::abort();
}

template <class T>
void check_error(const grantd::bus::Decoded<T>& d, std::string_view argument)
{
	if (!grantd::bus::failed(d))
		return;
	const auto& e = std::get<grantd::bus::BusError>(d);
	check(e.name == grantd::bus::kErrorInvalidArgument);
	check(e.message.rfind("argument '" + std::string(argument) + "': ", 0) == 0);
	check(e.message.size() < 2 * grantd::bus::kMaxString);
}

std::vector<std::string> split(std::string_view text, char separator)
{
	std::vector<std::string> out;
	std::size_t start = 0;
	for (std::size_t i = 0; i <= text.size(); i++)
		if (i == text.size() || text[i] == separator) {
			out.emplace_back(text.substr(start, i - start));
			start = i + 1;
		}
	return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	namespace bus = grantd::bus;
	if (size == 0)
		return 0;
	const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
	switch (data[0] % 7) {
	case 0: {
		auto d = bus::text_arg("purpose", text, true);
		check_error(d, "purpose");
		if (!bus::failed(d))
			check(std::get<0>(d) == text && !text.empty());
		break;
	}
	case 1: {
		auto d = bus::rights_arg("rights", split(text, ','));
		check_error(d, "rights");
		if (!bus::failed(d))
			check(!std::get<0>(d).empty());
		break;
	}
	case 2: {
		auto d = bus::resources_arg("resources", split(text, '\n'));
		check_error(d, "resources");
		if (!bus::failed(d))
			for (const auto& r : std::get<0>(d)) {
				auto again = grantd::policy::parse_resource(grantd::policy::to_string(r));
				check(again.ok() && *again == r);
			}
		break;
	}
	case 3: {
		auto d = bus::duration_arg("ttl", text);
		check_error(d, "ttl");
		if (!bus::failed(d)) {
			auto again = bus::duration_arg("ttl", grantd::policy::format_duration(std::get<0>(d)));
			check(!bus::failed(again) && std::get<0>(again) == std::get<0>(d));
		}
		break;
	}
	case 4: {
		auto d = bus::mode_arg("mode", text);
		check_error(d, "mode");
		if (!bus::failed(d))
			check(bus::mode_name(std::get<0>(d)) == text);
		break;
	}
	case 5: {
		auto d = bus::path_arg("workspace", text);
		check_error(d, "workspace");
		if (!bus::failed(d)) {
			auto again = bus::path_arg("workspace", std::get<0>(d));
			check(!bus::failed(again) && std::get<0>(again) == std::get<0>(d));
		}
		break;
	}
	default: {
		bus::Options options{{std::string(text), std::string("x")}};
		auto d = bus::check_options("options", options, {{"mode", 's'}, {"user", 'u'}});
		check_error(d, "options");
		check(bus::failed(d) == (text != "mode"));
		break;
	}
	}
	return 0;
}
