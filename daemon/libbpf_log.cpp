#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <vector>

namespace grantd {
namespace {

std::string captured;
libbpf_print_fn_t previous = nullptr;

// libbpf's callback: the format is libbpf's, passed through as printf would.
__attribute__((format(printf, 2, 0))) int capture(enum libbpf_print_level level, const char* format,
						 va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	va_list again;
	va_copy(again, args);
	int n = std::vsnprintf(nullptr, 0, format, args);
	if (n > 0) {
		std::string text(static_cast<size_t>(n) + 1, '\0');
		std::vsnprintf(text.data(), text.size(), format, again);
		text.resize(static_cast<size_t>(n));
		captured += text;
	}
	va_end(again);
	return n;
}

} // namespace

LibbpfLogCapture::LibbpfLogCapture()
{
	captured.clear();
	previous = libbpf_set_print(capture);
}

LibbpfLogCapture::~LibbpfLogCapture() { libbpf_set_print(previous); }

std::string LibbpfLogCapture::tail(int max_lines) const
{
	std::vector<std::string> lines;
	std::string line;
	for (char c : captured) {
		if (c == '\n') {
			if (!line.empty())
				lines.push_back(line);
			line.clear();
		} else {
			line += c;
		}
	}
	if (!line.empty())
		lines.push_back(line);
	std::string out;
	size_t first = lines.size() > static_cast<size_t>(max_lines) ? lines.size() - max_lines : 0;
	for (size_t i = first; i < lines.size(); i++)
		out += "  " + lines[i] + "\n";
	return out;
}

} // namespace grantd
