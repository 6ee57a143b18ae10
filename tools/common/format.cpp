#include "format.h"

#include <grantd/policy.h>

#include <charconv>
#include <ctime>
#include <time.h>

namespace grantd::tools {

void print_table(std::FILE* out, const std::vector<std::string>& headers,
		 const std::vector<std::vector<std::string>>& rows)
{
	std::vector<std::size_t> width(headers.size());
	for (std::size_t i = 0; i < headers.size(); i++)
		width[i] = headers[i].size();
	for (const auto& row : rows)
		for (std::size_t i = 0; i < row.size() && i < width.size(); i++)
			width[i] = std::max(width[i], row[i].size());
	auto line = [&](const std::vector<std::string>& cells) {
		std::string text;
		for (std::size_t i = 0; i < cells.size(); i++) {
			text += cells[i];
			if (i + 1 < cells.size())
				text += std::string(width[i] - cells[i].size() + 2, ' ');
		}
		std::fprintf(out, "%s\n", text.c_str());
	};
	line(headers);
	for (const auto& row : rows)
		line(row);
}

std::uint64_t now_usec()
{
	timespec ts{};
	clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

std::string format_time(std::uint64_t usec)
{
	if (usec == 0)
		return "never";
	time_t t = static_cast<time_t>(usec / 1000000u);
	tm local{};
	localtime_r(&t, &local);
	char buf[32];
	std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
	return buf;
}

std::string format_remaining(std::uint64_t usec, std::uint64_t now)
{
	if (usec == 0)
		return "never";
	if (usec <= now)
		return "expired";
	auto seconds = (usec - now + 999999u) / 1000000u;
	return "in " + policy::format_duration(policy::Duration(seconds));
}

Result<std::uint64_t> parse_time(std::string_view text, std::uint64_t now)
{
	auto bad = [&] {
		return Error{"'" + std::string(text) +
			     "' is not a time (@SECONDS, YYYY-MM-DD[THH:MM[:SS]][Z], now, or DURATION ago)"};
	};
	if (text == "now")
		return now;
	if (text.starts_with("@")) {
		auto seconds = parse_id(text.substr(1));
		if (!seconds || *seconds > UINT64_MAX / 1000000u)
			return bad();
		return *seconds * 1000000u;
	}
	std::string_view span;
	if (text.starts_with("-"))
		span = text.substr(1);
	else if (text.ends_with(" ago"))
		span = text.substr(0, text.size() - 4);
	if (!span.empty()) {
		auto d = policy::parse_duration(span);
		if (!d)
			return bad();
		auto usec = static_cast<std::uint64_t>(d->count()) * 1000000u;
		return usec > now ? 0 : now - usec;
	}
	std::string s(text);
	bool utc = false;
	if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) {
		utc = true;
		s.pop_back();
	}
	if (s.size() > 10 && s[10] == ' ')
		s[10] = 'T';
	tm t{};
	const char* end = nullptr;
	for (const char* format : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
		t = tm{};
		end = strptime(s.c_str(), format, &t);
		if (end && *end == '\0')
			break;
		end = nullptr;
	}
	if (!end)
		return bad();
	t.tm_isdst = -1;
	time_t seconds = utc ? timegm(&t) : mktime(&t);
	if (seconds < 0)
		return bad();
	return static_cast<std::uint64_t>(seconds) * 1000000u;
}

std::optional<std::uint64_t> parse_id(std::string_view text, std::uint64_t max)
{
	std::uint64_t n = 0;
	if (text.empty() || text[0] == '+' || text[0] == '-')
		return std::nullopt;
	auto r = std::from_chars(text.data(), text.data() + text.size(), n);
	if (r.ec != std::errc() || r.ptr != text.data() + text.size() || n == 0 || n > max)
		return std::nullopt;
	return n;
}

std::string join(const std::vector<std::string>& items, std::string_view sep)
{
	std::string out;
	for (std::size_t i = 0; i < items.size(); i++) {
		if (i)
			out += sep;
		out += items[i];
	}
	return out;
}

std::vector<std::string> split_commas(std::string_view text)
{
	std::vector<std::string> out;
	while (!text.empty()) {
		auto comma = text.find(',');
		auto item = text.substr(0, comma);
		if (!item.empty())
			out.emplace_back(item);
		if (comma == std::string_view::npos)
			break;
		text.remove_prefix(comma + 1);
	}
	return out;
}

} // namespace grantd::tools
