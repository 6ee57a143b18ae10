// Routes libbpf's messages into a buffer so that failures can quote them.
#pragma once

#include <string>

namespace grantd {

// While alive, libbpf's warnings are collected instead of printed.
class LibbpfLogCapture {
public:
	LibbpfLogCapture();
	~LibbpfLogCapture();
	LibbpfLogCapture(const LibbpfLogCapture&) = delete;
	LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

	// The last `max_lines` lines collected so far.
	std::string tail(int max_lines = 8) const;
};

} // namespace grantd
