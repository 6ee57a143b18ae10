#include <grantd/policy.h>

#include <cstdint>
#include <limits>

namespace grantd::policy {

namespace {

constexpr std::int64_t unit_seconds(char unit)
{
	switch (unit) {
	case 'd': return 86400;
	case 'h': return 3600;
	case 'm': return 60;
	case 's': return 1;
	default: return 0;
	}
}

// Deadlines are nanoseconds in 63 bits (the kernel's boot clock plus a TTL):
// 106751d is the last whole day that fits.
constexpr std::int64_t max_days = std::numeric_limits<std::int64_t>::max() / 1'000'000'000 / 86400;
constexpr std::int64_t max_seconds = max_days * 86400;

Error duration_error(std::string_view text, const std::string& problem)
{
	return Error{"duration \"" + std::string(text) + "\" " + problem};
}

} // namespace

Result<Duration> parse_duration(std::string_view text)
{
	static constexpr const char* form = " (write e.g. \"90s\", \"5m\", \"1h30m\", \"2d\")";
	if (text.empty())
		return Error{"empty duration" + std::string(form)};
	if (text.front() == '-')
		return duration_error(text, "is negative");
	std::int64_t total = 0;
	std::int64_t previous_unit = std::numeric_limits<std::int64_t>::max();
	std::size_t i = 0;
	while (i < text.size()) {
		std::size_t start = i;
		std::int64_t number = 0;
		while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
			// Saturate: anything past max_seconds is rejected below anyway.
			number = number > max_seconds ? number : number * 10 + (text[i] - '0');
			++i;
		}
		if (i == start) {
			if (unit_seconds(text[i]))
				return duration_error(text, "has a unit without a number" + std::string(form));
			return duration_error(text, "has unexpected \"" + std::string(1, text[i]) + "\"" + form);
		}
		if (i == text.size())
			return duration_error(text, "needs a unit after " + std::string(text.substr(start)) +
							    ": d, h, m or s" + form);
		std::int64_t unit = unit_seconds(text[i]);
		bool letter = (text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z');
		if (!unit && letter)
			return duration_error(text, "has unknown unit \"" + std::string(1, text[i]) +
							    "\" (units are d, h, m, s)");
		if (!unit)
			return duration_error(text, "has unexpected \"" + std::string(1, text[i]) + "\"" + form);
		if (unit >= previous_unit)
			return duration_error(text, "must give units largest first, each at most once (d, h, m, s)");
		previous_unit = unit;
		++i;
		if (number > max_seconds / unit || total > max_seconds - number * unit)
			return duration_error(text, "is too long (at most " + std::to_string(max_days) + "d)");
		total += number * unit;
	}
	if (total == 0)
		return duration_error(text, "is zero; it must be positive");
	return Duration{total};
}

std::string format_duration(Duration duration)
{
	std::int64_t left = duration.count();
	if (left <= 0)
		return std::to_string(left) + "s";
	std::string out;
	for (char unit : {'d', 'h', 'm', 's'}) {
		std::int64_t n = left / unit_seconds(unit);
		if (n) {
			out += std::to_string(n);
			out += unit;
			left -= n * unit_seconds(unit);
		}
	}
	return out;
}

} // namespace grantd::policy
