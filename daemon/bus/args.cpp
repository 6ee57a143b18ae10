#include "bus/args.h"

#include "audit/text.h"

#include <cstdio>

namespace grantd::bus {

namespace {

char type_char(const OptionValue& v)
{
	switch (v.index()) {
	case 0:
		return 's';
	case 1:
		return 'u';
	case 2:
		return 't';
	default:
		return 'b';
	}
}

} // namespace

BusError invalid(std::string_view argument, const std::string& problem)
{
	return {kErrorInvalidArgument, "argument '" + std::string(argument) + "': " + problem};
}

std::string quote(std::string_view text)
{
	constexpr std::size_t kShown = 64;
	std::string out = "\"";
	for (std::size_t i = 0; i < text.size() && i < kShown; i++) {
		unsigned char c = static_cast<unsigned char>(text[i]);
		if (c == '"' || c == '\\') {
			out += '\\';
			out += static_cast<char>(c);
		} else if (c < 0x20 || c == 0x7f) {
			char buf[8];
			std::snprintf(buf, sizeof buf, "\\x%02x", c);
			out += buf;
		} else {
			out += static_cast<char>(c);
		}
	}
	out += '"';
	if (text.size() > kShown)
		out += "… (" + std::to_string(text.size()) + " bytes)";
	return out;
}

Decoded<std::string> text_arg(std::string_view argument, std::string_view value, bool required)
{
	if (value.size() > kMaxString)
		return invalid(argument, "is " + std::to_string(value.size()) + " bytes long; at most " +
						 std::to_string(kMaxString) + " are accepted");
	if (!audit::valid_utf8(value))
		return invalid(argument, quote(value) + " is not valid UTF-8");
	if (required && value.empty())
		return invalid(argument, "must not be empty");
	return std::string(value);
}

Decoded<policy::Rights> rights_arg(std::string_view argument, const std::vector<std::string>& names)
{
	if (names.empty())
		return invalid(argument, "names no right (rights: read write create delete exec map-exec connect send bind)");
	if (names.size() > kMaxList)
		return invalid(argument, "has " + std::to_string(names.size()) + " entries; at most " +
						 std::to_string(kMaxList) + " are accepted");
	policy::Rights rights;
	for (const std::string& name : names) {
		auto r = policy::right_from_name(name);
		if (!r)
			return invalid(argument, quote(name) + " is not a right (rights: read write create delete "
							       "exec map-exec connect send bind)");
		rights = rights | policy::Rights{*r};
	}
	return rights;
}

Decoded<std::vector<policy::Resource>> resources_arg(std::string_view argument, const std::vector<std::string>& texts)
{
	if (texts.empty())
		return invalid(argument, "names no resource");
	if (texts.size() > kMaxList)
		return invalid(argument, "has " + std::to_string(texts.size()) + " entries; at most " +
						 std::to_string(kMaxList) + " are accepted");
	std::vector<policy::Resource> out;
	for (const std::string& text : texts) {
		if (text.size() > kMaxString)
			return invalid(argument, "an entry is " + std::to_string(text.size()) + " bytes long; at most " +
							 std::to_string(kMaxString) + " are accepted");
		auto r = policy::parse_resource(text);
		if (!r)
			return invalid(argument, quote(text) + " is not a resource: " + r.error().message);
		out.push_back(std::move(r.value()));
	}
	return out;
}

Decoded<policy::Duration> duration_arg(std::string_view argument, std::string_view text)
{
	if (text.size() > 64)
		return invalid(argument, quote(text) + " is not a duration (like 90s, 5m, 1h30m, 2d)");
	auto d = policy::parse_duration(text);
	if (!d)
		return invalid(argument, quote(text) + " is not a duration (like 90s, 5m, 1h30m, 2d): " +
						 d.error().message);
	return d.value();
}

Decoded<policy::Mode> mode_arg(std::string_view argument, std::string_view text)
{
	if (text == "enforce")
		return policy::Mode::enforce;
	if (text == "permissive")
		return policy::Mode::permissive;
	return invalid(argument, quote(text) + " is not a mode (enforce or permissive)");
}

Decoded<std::string> path_arg(std::string_view argument, std::string_view text)
{
	if (text.size() > kMaxString)
		return invalid(argument, "is " + std::to_string(text.size()) + " bytes long; at most " +
						 std::to_string(kMaxString) + " are accepted");
	auto p = policy::normalize_path(text);
	if (!p)
		return invalid(argument, quote(text) + " is not an absolute path: " + p.error().message);
	return p.value();
}

BusError zero_id(std::string_view argument)
{
	return invalid(argument, "0 is not an id");
}

std::string mode_name(policy::Mode mode)
{
	return mode == policy::Mode::permissive ? "permissive" : "enforce";
}

Decoded<bool> check_options(std::string_view argument, const Options& options,
			    const std::map<std::string, char>& allowed)
{
	for (const auto& [key, value] : options) {
		auto it = allowed.find(key);
		if (it == allowed.end()) {
			std::string known;
			for (const auto& [k, type] : allowed)
				known += (known.empty() ? "" : ", ") + k;
			return invalid(argument, "unknown option " + quote(key) +
							 (known.empty() ? " (none are accepted)" : " (options: " + known + ")"));
		}
		if (type_char(value) != it->second)
			return invalid(argument, "option " + quote(key) + " must have type '" + std::string(1, it->second) +
							 "', not '" + std::string(1, type_char(value)) + "'");
	}
	return true;
}

} // namespace grantd::bus
