#include "template.h"

#include <grantd/abi.h>

#include <arpa/inet.h>

#include <algorithm>
#include <optional>

namespace grantd::policy {

// The maps writer passes file rights to the kernel as they are.
static_assert(static_cast<unsigned>(Right::read) == GRANTD_RIGHT_READ);
static_assert(static_cast<unsigned>(Right::write) == GRANTD_RIGHT_WRITE);
static_assert(static_cast<unsigned>(Right::create) == GRANTD_RIGHT_CREATE);
static_assert(static_cast<unsigned>(Right::delete_) == GRANTD_RIGHT_DELETE);
static_assert(static_cast<unsigned>(Right::exec) == GRANTD_RIGHT_EXEC);
static_assert(static_cast<unsigned>(Right::map_exec) == GRANTD_RIGHT_MAP_EXEC);
static_assert(static_cast<unsigned>(Right::connect) == GRANTD_RIGHT_CONNECT);
static_assert(static_cast<unsigned>(Right::send) == GRANTD_RIGHT_SEND);
static_assert(static_cast<unsigned>(Right::bind) == GRANTD_RIGHT_BIND);

namespace {

constexpr std::string_view right_names[right_count] = {
	"read", "write", "create", "delete", "exec", "map-exec", "connect", "send", "bind",
};

// PATH_MAX: the kernel refuses longer paths, so a rule on one could never match.
constexpr std::size_t max_path = 4096;

std::string in_quotes(std::string_view text)
{
	return "\"" + std::string(text) + "\"";
}

std::string placeholder_problem(std::string_view component)
{
	if (component == "{workspace}" || component == "{home}")
		return "has " + std::string(component) + " after the start; it can only begin a path";
	bool whole = component.size() >= 2 && component.front() == '{' && component.back() == '}' &&
		     component.find_first_of("{}", 1) == component.size() - 1;
	if (whole)
		return "has unknown placeholder " + std::string(component) +
		       " (placeholders: {workspace}, {home}, {user})";
	for (std::string_view known : {"{workspace}", "{home}", "{user}"})
		if (component.find(known) != std::string_view::npos)
			return "has " + std::string(known) + " inside the component " + in_quotes(component) +
			       "; a placeholder must be a whole component";
	return "has an unmatched brace in " + in_quotes(component);
}

// Normalises into out, or returns what is wrong (to follow the quoted text).
// With placeholders, braces are placeholders, never part of a name.
std::optional<std::string> normalize_into(std::string_view text, bool placeholders, std::string& out)
{
	out.clear();
	if (text.find('\0') != std::string_view::npos)
		return "contains a NUL byte";
	if (text.size() > max_path)
		return "is longer than " + std::to_string(max_path) + " bytes";
	std::size_t i = 0;
	if (placeholders && !text.empty() && text.front() == '{') {
		std::string_view first = text.substr(0, text.find('/'));
		if (first == "{user}")
			return "starts with {user}, a single component; start it with \"/\", \"{workspace}\" or \"{home}\"";
		if (first != "{workspace}" && first != "{home}")
			return placeholder_problem(first);
		out = first;
		i = first.size();
	} else if (text.empty() || text.front() != '/') {
		return placeholders ? "is relative; start it with \"/\", \"{workspace}\" or \"{home}\""
				    : "is relative; paths start with \"/\"";
	}
	while (i < text.size()) {
		if (text[i] == '/') {
			++i;
			continue;
		}
		std::size_t end = std::min(text.find('/', i), text.size());
		std::string_view component = text.substr(i, end - i);
		i = end;
		if (component == ".")
			continue;
		if (component == "..")
			return "has a \"..\" component";
		if (placeholders && component.find_first_of("{}") != std::string_view::npos &&
		    component != "{user}")
			return placeholder_problem(component);
		out += '/';
		out += component;
	}
	if (out.empty())
		out = "/";
	return std::nullopt;
}

Result<Resource> parse_path(std::string_view text, bool placeholders)
{
	Resource r;
	if (auto problem = normalize_into(text, placeholders, r.path))
		return Error{"path " + in_quotes(text) + " " + *problem};
	return r;
}

unsigned max_length(IpFamily family)
{
	return family == IpFamily::v4 ? 32 : 128;
}

bool leading_bits_equal(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
			unsigned bits)
{
	unsigned bytes = bits / 8;
	if (!std::equal(a.begin(), a.begin() + bytes, b.begin()))
		return false;
	unsigned rest = bits % 8;
	if (!rest)
		return true;
	auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

IpPrefix network_of(IpPrefix p)
{
	for (unsigned bit = p.length; bit < 128; ++bit)
		p.address[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
	return p;
}

bool is_digits(std::string_view s)
{
	return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<Resource> parse_endpoint(std::string_view text, bool placeholders)
{
	auto fail = [&](const std::string& problem) { return Error{"endpoint " + in_quotes(text) + " " + problem}; };
	static constexpr const char* forms = "tcp:ADDRESS:PORT, udp:ADDRESS:PORT or unix:/PATH";
	if (text.find('\0') != std::string_view::npos)
		return fail("contains a NUL byte");
	std::size_t colon = text.find(':');
	if (colon == std::string_view::npos)
		return fail(std::string("has no protocol; write ") + forms);
	std::string_view protocol = text.substr(0, colon);
	std::string_view rest = text.substr(colon + 1);
	Resource r;
	if (protocol == "unix") {
		r.kind = ResourceKind::unix_socket;
		if (auto problem = normalize_into(rest, placeholders, r.path))
			return fail(*problem);
		return r;
	}
	if (protocol == "tcp")
		r.kind = ResourceKind::tcp;
	else if (protocol == "udp")
		r.kind = ResourceKind::udp;
	else
		return fail("has unknown protocol " + in_quotes(protocol) + "; write " + forms);

	static constexpr const char* port_form = "needs a port: PROTOCOL:ADDRESS:PORT, PORT 1-65535 or \"any\"";
	std::string_view address, port;
	if (!rest.empty() && rest.front() == '[') {
		std::size_t close = rest.find(']');
		if (close == std::string_view::npos)
			return fail("has no \"]\" after the IPv6 address");
		address = rest.substr(1, close - 1);
		std::string_view after = rest.substr(close + 1);
		if (after.empty())
			return fail(port_form);
		if (after.front() != ':')
			return fail("needs \":PORT\" right after \"]\"");
		port = after.substr(1);
		if (address.find(':') == std::string_view::npos)
			return fail("has brackets around " + in_quotes(address) + "; brackets are for IPv6 addresses");
	} else {
		std::size_t last = rest.rfind(':');
		if (last == std::string_view::npos)
			return fail(port_form);
		address = rest.substr(0, last);
		port = rest.substr(last + 1);
		if (address.find(':') != std::string_view::npos)
			return fail("has an IPv6 address without brackets; write e.g. tcp:[2001:db8::1]:443");
	}
	if (port == "any") {
		r.port = 0;
	} else if (is_digits(port) && port.size() <= 5 && std::stoul(std::string(port)) >= 1 &&
		   std::stoul(std::string(port)) <= 65535) {
		r.port = static_cast<std::uint16_t>(std::stoul(std::string(port)));
	} else {
		return fail("has bad port " + in_quotes(port) + " (1-65535 or \"any\")");
	}
	auto prefix = parse_ip_prefix(address);
	if (!prefix)
		return Error{"endpoint " + in_quotes(text) + ": " + prefix.error().message};
	r.prefix = prefix.value();
	return r;
}

} // namespace

std::string_view right_name(Right right)
{
	return right_names[static_cast<unsigned>(right)];
}

std::optional<Right> right_from_name(std::string_view name)
{
	for (unsigned i = 0; i < right_count; ++i)
		if (right_names[i] == name)
			return static_cast<Right>(i);
	return std::nullopt;
}

std::string to_string(Rights rights)
{
	std::string out;
	for (unsigned i = 0; i < right_count; ++i) {
		if (!rights.has(static_cast<Right>(i)))
			continue;
		if (!out.empty())
			out += ',';
		out += right_names[i];
	}
	return out.empty() ? "none" : out;
}

Result<std::string> normalize_path(std::string_view path)
{
	auto r = parse_path(path, false);
	if (!r)
		return r.error();
	return std::move(r.value().path);
}

bool path_within(std::string_view path, std::string_view ancestor)
{
	if (!path.starts_with(ancestor))
		return false;
	return path.size() == ancestor.size() || ancestor == "/" || path[ancestor.size()] == '/';
}

Result<IpPrefix> parse_ip_prefix(std::string_view text)
{
	auto fail = [&](const std::string& problem) { return Error{"address " + in_quotes(text) + " " + problem}; };
	if (text.find('\0') != std::string_view::npos)
		return fail("contains a NUL byte");
	std::size_t slash = text.find('/');
	std::string address(text.substr(0, slash));
	IpPrefix p;
	p.family = address.find(':') == std::string::npos ? IpFamily::v4 : IpFamily::v6;
	int af = p.family == IpFamily::v4 ? AF_INET : AF_INET6;
	if (inet_pton(af, address.c_str(), p.address.data()) != 1)
		return fail(p.family == IpFamily::v4 ? "is not an IPv4 address" : "is not an IPv6 address");
	unsigned length = max_length(p.family);
	if (slash != std::string_view::npos) {
		std::string_view digits = text.substr(slash + 1);
		if (!is_digits(digits) || digits.size() > 3)
			return fail("has a bad prefix length " + in_quotes(digits));
		length = static_cast<unsigned>(std::stoul(std::string(digits)));
		if (length > max_length(p.family))
			return fail("has a prefix longer than " + std::to_string(max_length(p.family)) + " bits");
	}
	p.length = static_cast<std::uint8_t>(length);
	static constexpr std::array<std::uint8_t, 12> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (p.family == IpFamily::v6 && length >= 96 && std::equal(mapped.begin(), mapped.end(), p.address.begin())) {
		std::array<std::uint8_t, 16> v4{};
		std::copy(p.address.begin() + 12, p.address.end(), v4.begin());
		p = IpPrefix{IpFamily::v4, v4, static_cast<std::uint8_t>(length - 96)};
	}
	IpPrefix network = network_of(p);
	if (network != p)
		return fail("has bits set beyond /" + std::to_string(p.length) + " (the network is " +
			    to_string(network) + ")");
	return p;
}

std::string to_string(const IpPrefix& prefix)
{
	char text[INET6_ADDRSTRLEN] = {};
	inet_ntop(prefix.family == IpFamily::v4 ? AF_INET : AF_INET6, prefix.address.data(), text, sizeof text);
	std::string out = text;
	if (prefix.length < max_length(prefix.family))
		out += "/" + std::to_string(prefix.length);
	return out;
}

Result<Resource> parse_resource(std::string_view text)
{
	// A path never needs a colon before its first slash; an endpoint always has one.
	std::size_t colon = text.find(':');
	if (colon != std::string_view::npos && colon < text.find('/'))
		return parse_endpoint(text, false);
	return parse_path(text, false);
}

std::string to_string(const Resource& resource)
{
	switch (resource.kind) {
	case ResourceKind::path:
		return resource.path;
	case ResourceKind::unix_socket:
		return "unix:" + resource.path;
	case ResourceKind::tcp:
	case ResourceKind::udp:
		break;
	}
	std::string out = resource.kind == ResourceKind::tcp ? "tcp:" : "udp:";
	if (resource.prefix.family == IpFamily::v6)
		out += "[" + to_string(resource.prefix) + "]";
	else
		out += to_string(resource.prefix);
	out += ":" + (resource.port ? std::to_string(resource.port) : std::string("any"));
	return out;
}

Rights applicable_rights(ResourceKind kind)
{
	switch (kind) {
	case ResourceKind::path:
		return {Right::read, Right::write, Right::create, Right::delete_, Right::exec, Right::map_exec};
	case ResourceKind::tcp:
		return {Right::connect, Right::bind};
	case ResourceKind::udp:
	case ResourceKind::unix_socket:
		return {Right::connect, Right::send, Right::bind};
	}
	return {};
}

bool resource_within(const Resource& inner, const Resource& outer)
{
	if (inner.kind != outer.kind)
		return false;
	if (detail::is_path_like(inner.kind))
		return path_within(inner.path, outer.path);
	return inner.prefix.family == outer.prefix.family && outer.prefix.length <= inner.prefix.length &&
	       leading_bits_equal(inner.prefix.address, outer.prefix.address, outer.prefix.length) &&
	       (outer.port == 0 || outer.port == inner.port);
}

bool resources_overlap(const Resource& a, const Resource& b)
{
	// A unix socket is a file: a rule on its path or a directory above it
	// concerns the socket whichever way the rule names it.
	if (detail::is_path_like(a.kind) && detail::is_path_like(b.kind))
		return path_within(a.path, b.path) || path_within(b.path, a.path);
	if (a.kind != b.kind || a.prefix.family != b.prefix.family)
		return false;
	unsigned shorter = std::min(a.prefix.length, b.prefix.length);
	return leading_bits_equal(a.prefix.address, b.prefix.address, shorter) &&
	       (a.port == 0 || b.port == 0 || a.port == b.port);
}

namespace detail {

Result<Resource> parse_path_template(std::string_view text)
{
	return parse_path(text, true);
}

Result<Resource> parse_endpoint_template(std::string_view text)
{
	return parse_endpoint(text, true);
}

Result<Context> check_context(const Context& context)
{
	Context out;
	auto path = [](std::string_view name, const std::string& in, std::string& to) -> Result<void> {
		if (in.empty())
			return {};
		auto normal = normalize_path(in);
		if (!normal)
			return normal.error().context("context " + std::string(name));
		to = std::move(normal.value());
		return {};
	};
	if (auto ok = path("workspace", context.workspace, out.workspace); !ok)
		return ok.error();
	if (auto ok = path("home", context.home, out.home); !ok)
		return ok.error();
	const std::string& user = context.user;
	if (user == "." || user == ".." || user.find_first_of(std::string_view("/\0{}", 4)) != std::string::npos)
		return Error{"context user " + in_quotes(user) + " is not a single path component"};
	out.user = user;
	return out;
}

Result<Resource> expand(const Resource& resource, const Context& context)
{
	if (!is_path_like(resource.kind))
		return resource;
	std::string_view rest = resource.path;
	std::string path;
	for (auto [placeholder, value] : {std::pair{std::string_view("{workspace}"), &context.workspace},
					  std::pair{std::string_view("{home}"), &context.home}}) {
		if (!rest.starts_with(placeholder))
			continue;
		if (value->empty())
			return Error{std::string(placeholder) + " is not set for this session"};
		path = *value;
		rest.remove_prefix(placeholder.size());
	}
	while (!rest.empty()) {
		rest.remove_prefix(1); // the '/' every template component starts with
		std::string_view component = rest.substr(0, rest.find('/'));
		rest.remove_prefix(component.size());
		if (component == "{user}") {
			if (context.user.empty())
				return Error{"{user} is not set for this session"};
			component = context.user;
		}
		path += '/';
		path += component;
	}
	Resource out = resource;
	// Joining "/" with "/src" gives "//src"; normalising also re-checks the length.
	auto normal = normalize_path(path);
	if (!normal)
		return normal.error();
	out.path = std::move(normal.value());
	return out;
}

bool is_path_like(ResourceKind kind)
{
	return kind == ResourceKind::path || kind == ResourceKind::unix_socket;
}

bool covers(const Resource& outer, const Resource& inner)
{
	if (is_path_like(outer.kind) && is_path_like(inner.kind))
		return path_within(inner.path, outer.path);
	return resource_within(inner, outer);
}

std::string never_conflict(Rights rights, const Resource& asked, const Resource& forbidden,
			   std::string_view never_rule)
{
	std::string rule = "never rule " + in_quotes(never_rule);
	std::string what = to_string(rights) + " on " + to_string(asked);
	if (covers(forbidden, asked))
		return rule + " forbids " + what;
	if (covers(asked, forbidden))
		return what + " would also cover " + to_string(forbidden) + ", which " + rule + " forbids";
	return what + " overlaps " + to_string(forbidden) + ", which " + rule + " forbids";
}

std::string_view kind_plural(ResourceKind kind)
{
	switch (kind) {
	case ResourceKind::path: return "paths";
	case ResourceKind::tcp: return "tcp endpoints";
	case ResourceKind::udp: return "udp endpoints";
	case ResourceKind::unix_socket: return "unix endpoints";
	}
	return "resources";
}

} // namespace detail

} // namespace grantd::policy
