// Decoding D-Bus arguments into policy values: pure functions, no bus, so
// they are unit-tested and fuzzed alone. Every error names the argument and
// quotes (a bounded prefix of) what was wrong:
//   argument 'ttl': "5x" is not a duration (…)
#pragma once

#include "bus/errors.h"

#include <grantd/policy.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace grantd::bus {

template <class T>
using Decoded = std::variant<T, BusError>;

template <class T>
bool failed(const Decoded<T>& d)
{
	return d.index() == 1;
}

// Longest string argument accepted (purpose, reason, path, …): far more than
// any real one, small enough that nothing oversized reaches a log record.
inline constexpr std::size_t kMaxString = 4096;
// Longest list argument (rights, resources).
inline constexpr std::size_t kMaxList = 64;

BusError invalid(std::string_view argument, const std::string& problem);
// "\"text\"" with control characters escaped and a long text cut.
std::string quote(std::string_view text);

// Text that is valid UTF-8, at most kMaxString bytes, and (if required) not empty.
Decoded<std::string> text_arg(std::string_view argument, std::string_view value, bool required);
Decoded<policy::Rights> rights_arg(std::string_view argument, const std::vector<std::string>& names);
// Concrete resources, each applicable to at least one of the rights.
Decoded<std::vector<policy::Resource>> resources_arg(std::string_view argument, const std::vector<std::string>& texts);
Decoded<policy::Duration> duration_arg(std::string_view argument, std::string_view text);
Decoded<policy::Mode> mode_arg(std::string_view argument, std::string_view text);
// An absolute, normalised path.
Decoded<std::string> path_arg(std::string_view argument, std::string_view text);
// Ids are never 0 where one is required.
BusError zero_id(std::string_view argument);

std::string mode_name(policy::Mode mode);

// a{sv} values as decoded from the bus: only the types options use.
using OptionValue = std::variant<std::string, std::uint32_t, std::uint64_t, bool>;
using Options = std::map<std::string, OptionValue>;
// Checks keys and types against `allowed` ({"mode", 's'}, {"user", 'u'}…);
// an unknown key or a wrong type is an error naming it.
Decoded<bool> check_options(std::string_view argument, const Options& options,
			    const std::map<std::string, char>& allowed);

} // namespace grantd::bus
