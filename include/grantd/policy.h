// Profiles and the envelope evaluator: what an agent may be granted, decided
// from a profile, a request and the session's context alone. No kernel, no
// bus, no global state; every function is safe to call from any thread.
//
// Paths are compared lexically, after normalisation (absolute, no "..", no
// "." or empty components, no trailing slash). Nothing here touches the file
// system: resolving symlinks and bind mounts is the daemon's job. It must pass
// the path the kernel will walk (realpath of an existing object, realpath of
// the parent plus the name for one about to be created), and profiles must
// name real paths (/usr/bin/dash, not /bin/sh), or a verdict here means nothing.
//
// A resource covers its whole subtree, because that is what the kernel
// enforces: a rule on a directory's inode applies to everything below it and
// cannot carve exceptions. So a request for a directory that contains a
// never path is denied, and a request matches a rule only if each of its
// resources equals or lies below one of the rule's resources.
#pragma once

#include <grantd/result.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace grantd::policy {

// Bit i of a rights mask is Right(i); the file rights have the kernel's values
// (GRANTD_RIGHT_* in abi.h), so Rights::mask() & file bits is the kernel mask.
enum class Right : std::uint8_t {
	read,
	write,
	create,
	delete_,
	exec,
	map_exec,
	connect,
	send, // unconnected datagrams: udp and unix
	bind,
};
inline constexpr unsigned right_count = 9;

class Rights {
public:
	constexpr Rights() = default;
	constexpr Rights(std::initializer_list<Right> rights)
	{
		for (Right r : rights)
			mask_ |= bit(r);
	}
	static constexpr Rights from_mask(std::uint32_t mask) { return Rights(mask & ((1u << right_count) - 1)); }
	static constexpr Rights all() { return from_mask(~0u); }

	constexpr std::uint32_t mask() const { return mask_; }
	constexpr bool empty() const { return mask_ == 0; }
	constexpr bool has(Right r) const { return (mask_ & bit(r)) != 0; }
	constexpr bool covers(Rights other) const { return (mask_ & other.mask_) == other.mask_; }
	constexpr bool intersects(Rights other) const { return (mask_ & other.mask_) != 0; }
	constexpr Rights operator&(Rights other) const { return Rights(mask_ & other.mask_); }
	constexpr Rights operator|(Rights other) const { return Rights(mask_ | other.mask_); }
	constexpr Rights without(Rights other) const { return Rights(mask_ & ~other.mask_); }
	constexpr bool operator==(const Rights&) const = default;

private:
	constexpr explicit Rights(std::uint32_t mask) : mask_(mask) {}
	static constexpr std::uint32_t bit(Right r) { return 1u << static_cast<unsigned>(r); }
	std::uint32_t mask_ = 0;
};

// Profile spelling: "read", "write", "create", "delete", "exec", "map-exec",
// "connect", "send", "bind".
std::string_view right_name(Right right);
std::optional<Right> right_from_name(std::string_view name);
// "read,write" in Right order; "none" when empty.
std::string to_string(Rights rights);

// Whole seconds: grants are human-scale, and the kernel's deadlines are
// computed from this by the daemon.
using Duration = std::chrono::seconds;

// "90s", "5m", "1h30m", "2d": positive, units largest first, each at most
// once; at most 106751d so that a deadline in nanoseconds fits 63 bits.
Result<Duration> parse_duration(std::string_view text);
// The same form, largest units first: 5400s -> "1h30m", 0 -> "0s".
std::string format_duration(Duration duration);

// Makes an absolute path canonical: collapses "//" and "/./", drops a
// trailing slash. Relative paths, ".." components and NUL bytes are errors.
Result<std::string> normalize_path(std::string_view path);
// True if path equals ancestor or lies below it (whole components only).
bool path_within(std::string_view path, std::string_view ancestor);

enum class IpFamily : std::uint8_t { v4, v6 };

// An address prefix. IPv4-mapped IPv6 prefixes (::ffff:0:0/96 and longer)
// are stored as IPv4, as the kernel's lookup normalises them; an IPv6 prefix
// therefore never covers an IPv4 address.
struct IpPrefix {
	IpFamily family = IpFamily::v4;
	std::array<std::uint8_t, 16> address{}; // network order; IPv4 uses the first 4
	std::uint8_t length = 0;                // bits
	bool operator==(const IpPrefix&) const = default;
};
// "192.0.2.0/24", "192.0.2.10" (= /32), "2001:db8::/32", "::ffff:192.0.2.1".
// Bits set beyond the prefix length are an error, not silently dropped.
Result<IpPrefix> parse_ip_prefix(std::string_view text);
// Canonical text; the length is omitted for a single address.
std::string to_string(const IpPrefix& prefix);

enum class ResourceKind : std::uint8_t { path, tcp, udp, unix_socket };

// What a right is exercised on.
//   path          "/srv/app/src"              (file rights)
//   tcp, udp      "tcp:192.0.2.10:443", "udp:198.51.100.0/24:53",
//                 "tcp:[2001:db8::/32]:any"   (connect, bind; send for udp)
//   unix_socket   "unix:/run/app.sock"        (connect, send, bind)
struct Resource {
	ResourceKind kind = ResourceKind::path;
	std::string path;       // path, unix_socket
	IpPrefix prefix;        // tcp, udp
	std::uint16_t port = 0; // tcp, udp; 0 means any port
	bool operator==(const Resource&) const = default;
};
// Parses a concrete resource as a request names it (no placeholders).
Result<Resource> parse_resource(std::string_view text);
std::string to_string(const Resource& resource);
// The rights that mean something on a kind of resource.
Rights applicable_rights(ResourceKind kind);
// inner equals or lies within outer (same kind; subtree, prefix, port).
bool resource_within(const Resource& inner, const Resource& outer);
// Some object or address is covered by both.
bool resources_overlap(const Resource& a, const Resource& b);

enum class Mode : std::uint8_t { enforce, permissive };
enum class Approval : std::uint8_t { automatic, required };

struct SessionSettings {
	Mode mode = Mode::enforce;
	Duration max_duration{0};
	unsigned max_delegation_depth = 0; // 0: no sub-agents
};

// Resources in a profile are templates: paths (and unix socket paths) may
// begin with {workspace} or {home} and hold {user} as a whole component.
struct Rule {
	std::string name;
	std::string description;
	Rights rights;
	std::vector<Resource> resources;
};

struct GrantableRule : Rule {
	Duration max_ttl{0};
	Approval approval = Approval::required;
};

struct Profile {
	std::string name;
	std::string description;
	SessionSettings session;
	std::vector<Rule> baseline;           // for the whole session, no expiry
	std::vector<GrantableRule> grantable; // the envelope
	std::vector<Rule> never;              // no grant may touch these
};

// Parses and checks a profile; filename is used for the name check (the
// profile's name must be the file's stem) and in messages. Never throws.
// On failure the error holds every problem, one "FILE:LINE:COL: problem"
// per line, in file order.
Result<Profile> parse_profile(std::string_view text, std::string_view filename);
Result<Profile> load_profile(const std::string& path);
// Every problem, one Error each ("FILE:LINE:COL: problem"); empty if valid.
std::vector<Error> check_profile(std::string_view text, std::string_view filename);
std::vector<Error> check_file(const std::string& path);

// Placeholder values of one session. Empty means unset; a profile that uses
// an unset placeholder cannot be evaluated for that session.
struct Context {
	std::string workspace; // absolute path
	std::string home;      // absolute path
	std::string user;      // a single path component
	bool operator==(const Context&) const = default;
};

struct Request {
	Rights rights;
	std::vector<Resource> resources; // every right on every resource
	Duration ttl{0};
	std::string purpose; // recorded with the grant; must not be empty
	bool operator==(const Request&) const = default;
};

enum class Verdict : std::uint8_t { deny, pending, issue };

struct Decision {
	Verdict verdict = Verdict::deny;
	// The never rule that denied, or the grantable rule that matched;
	// empty for a request outside the envelope.
	std::string rule;
	Duration ttl{0};      // pending, issue: min(requested, rule's max_ttl)
	bool clamped = false; // the rule's max_ttl shortened the request
	std::string reason;   // one sentence naming rule, rights and resources
	bool operator==(const Decision&) const = default;
};

// Decides a request against the envelope. Never rules win over everything;
// one grantable rule must cover every right and resource of the request
// (preferring rules without approval, then the longest TTL, then file
// order). An error means the request or context is malformed, not a denial.
// Baseline rules grant nothing here: they are live for the whole session.
Result<Decision> evaluate(const Profile& profile, const Request& request, const Context& context);

// A profile's rules with one session's placeholders filled in, made once so
// that each request is only matched, not expanded again. It points into the
// profile, which must outlive it unchanged.
class Envelope {
public:
	// A rule's resources, concrete.
	struct Expanded {
		const Rule* rule;
		std::vector<Resource> resources;
	};
	// Fails for a malformed context or one that leaves a placeholder of a
	// never rule unset. The grantable and baseline rules' expansion errors
	// are kept and returned by evaluate() where evaluate(profile, ...)
	// would have met them.
	static Result<Envelope> expand(const Profile& profile, const Context& context);
	// The same decision, or error, as evaluate(profile, request, context).
	Result<Decision> evaluate(const Request& request) const;

private:
	Envelope(std::vector<Expanded> never, Result<std::vector<Expanded>> grantable,
		 Result<std::vector<Expanded>> baseline)
		: never_(std::move(never)), grantable_(std::move(grantable)), baseline_(std::move(baseline))
	{
	}
	std::vector<Expanded> never_;
	Result<std::vector<Expanded>> grantable_;
	Result<std::vector<Expanded>> baseline_;
};

struct BaselineEntry {
	std::string rule;
	Resource resource;
	Rights rights;
};

// The baseline with placeholders filled in. Fails if the context leaves a
// placeholder unset or makes a baseline resource overlap a never rule (e.g.
// a workspace that contains {home}/.ssh): such a session must not start.
Result<std::vector<BaselineEntry>> expand_baseline(const Profile& profile, const Context& context);

// An instant on the clock of the kernel's deadlines (the daemon uses
// CLOCK_BOOTTIME); policy never reads a clock, callers pass "now".
using Instant = std::chrono::nanoseconds;
inline constexpr Instant no_expiry = Instant::max();

// A grant as delegation sees it: what it gives and until when.
struct Grant {
	std::string id; // how reasons name it
	Rights rights;
	std::vector<Resource> resources;
	Instant expires = no_expiry;
};

struct Derivation {
	std::size_t parent; // index into the parents given to narrow()
	Instant expires;    // now + the child's ttl
};

// Derived grants narrow: the child's request must lie within one live parent
// grant (every right, every resource) and end no later than it. The error
// says why not.
Result<Derivation> narrow(std::span<const Grant> parents, const Request& child, Instant now);

} // namespace grantd::policy
