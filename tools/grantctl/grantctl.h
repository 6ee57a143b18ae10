// grantctl's commands share one parsed command line and one way to fail.
#pragma once

#include "bus.h"
#include "json.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace grantd::grantctl {

struct Args {
	std::string command;                // "status", "audit", ...
	std::vector<std::string> positional; // after the command (and sub-command)
	bool json = false;
	std::string bus;
	// command options
	std::optional<std::uint32_t> session;
	std::optional<std::uint64_t> grant;
	std::optional<std::uint64_t> since, until; // microseconds since the epoch
	std::optional<std::uint64_t> at;
	std::string path;
	std::optional<std::uint32_t> limit;
	bool follow = false;
	std::vector<std::string> rights;
	std::string ttl;
	std::string purpose;
	bool wait = false;
	std::optional<std::uint64_t> timeout_usec;
	std::string note;
	std::string reason;
	std::string pin_dir;
};

// One line on stderr, "grantctl: MESSAGE", and the status to exit with.
int fail(const std::string& message, int status = tools::kExitFailed);
int fail(const Error& error);
int usage_error(const std::string& message);

// Prints a JSON document on its own line.
void print_json(const tools::Json& value);

// Connects as the command line asks (see tools::pick_endpoint).
Result<tools::Client> connect(const Args& args);

int cmd_status(const Args& args);

} // namespace grantd::grantctl
