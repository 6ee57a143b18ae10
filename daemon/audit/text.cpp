#include "audit/text.h"

#include <cstdio>
#include <ctime>

namespace grantd::audit {

bool valid_utf8(std::string_view text)
{
	std::size_t i = 0;
	while (i < text.size()) {
		unsigned char c = static_cast<unsigned char>(text[i]);
		std::size_t extra;
		std::uint32_t code;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			extra = 1;
			code = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			extra = 2;
			code = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			extra = 3;
			code = c & 0x07;
		} else {
			return false; // a continuation byte, 0xc0/0xc1 (overlong) or past U+10FFFF
		}
		if (text.size() - i - 1 < extra)
			return false;
		for (std::size_t k = 1; k <= extra; k++) {
			unsigned char next = static_cast<unsigned char>(text[i + k]);
			if ((next & 0xc0) != 0x80)
				return false;
			code = code << 6 | (next & 0x3f);
		}
		if ((extra == 2 && code < 0x800) || (extra == 3 && (code < 0x10000 || code > 0x10ffff)) ||
		    (code >= 0xd800 && code <= 0xdfff))
			return false;
		i += extra + 1;
	}
	return true;
}

std::string rfc3339(std::uint64_t wall_ns)
{
	time_t seconds = static_cast<time_t>(wall_ns / 1000000000u);
	struct tm utc{};
	if (!gmtime_r(&seconds, &utc))
		return std::to_string(wall_ns) + "ns";
	char text[64];
	std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", utc.tm_year + 1900, utc.tm_mon + 1,
		      utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
		      static_cast<unsigned>(wall_ns % 1000000000u));
	return text;
}

std::string device_name(std::uint32_t dev) { return std::to_string(dev >> 20) + ":" + std::to_string(dev & 0xfffff); }

} // namespace grantd::audit
