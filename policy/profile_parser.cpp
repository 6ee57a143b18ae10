// TOML profile -> Profile. Collects every problem rather than stopping at the
// first, so that `grantctl profile check` shows a sysadmin all of them at once.
#include "template.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

namespace grantd::policy {

namespace {

// Each level is a nested cgroup and a link in a provenance chain; beyond a
// handful nobody can audit who acted for whom.
constexpr std::int64_t max_delegation_depth = 8;

constexpr std::size_t max_name = 64;

constexpr std::string_view rights_list = "read, write, create, delete, exec, map-exec, connect, send, bind";

std::string in_quotes(std::string_view text)
{
	return "\"" + std::string(text) + "\"";
}

std::string a_type(const toml::node& node)
{
	switch (node.type()) {
	case toml::node_type::string: return "a string";
	case toml::node_type::integer: return "an integer";
	case toml::node_type::floating_point: return "a float";
	case toml::node_type::boolean: return "a boolean";
	case toml::node_type::date: return "a date";
	case toml::node_type::time: return "a time";
	case toml::node_type::date_time: return "a date-time";
	case toml::node_type::table: return "a table";
	case toml::node_type::array: return "an array";
	case toml::node_type::none: break;
	}
	return "nothing";
}

std::size_t edit_distance(std::string_view a, std::string_view b)
{
	std::vector<std::size_t> row(b.size() + 1);
	for (std::size_t j = 0; j <= b.size(); ++j)
		row[j] = j;
	for (std::size_t i = 1; i <= a.size(); ++i) {
		std::size_t diagonal = row[0];
		row[0] = i;
		for (std::size_t j = 1; j <= b.size(); ++j) {
			std::size_t above = row[j];
			row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
			diagonal = above;
		}
	}
	return row[b.size()];
}

// "; did you mean X?" for a near miss (a typo, not a different word).
std::string suggestion(std::string_view word, std::initializer_list<std::string_view> known, bool quote)
{
	for (std::string_view k : known)
		if (edit_distance(word, k) <= 2 && word.size() > 2)
			return "; did you mean " + (quote ? in_quotes(k) : std::string(k)) + "?";
	return "";
}

bool valid_name(std::string_view name)
{
	auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; };
	return !name.empty() && name.size() <= max_name && name.front() != '-' && name.front() != '_' &&
	       std::all_of(name.begin(), name.end(), ok);
}

struct Located {
	Resource resource;
	toml::source_position at;
};

// A rule that parsed cleanly, with where its parts were written, for the
// checks that compare rules with each other.
struct ParsedRule {
	std::vector<Located> resources;
	std::size_t index; // into the profile's vector of its section
};

enum class Section { baseline, grantable, never };

class ProfileParser {
public:
	explicit ProfileParser(std::string_view filename) : file_(filename) {}

	Profile parse(std::string_view text);
	std::vector<Error> errors();

private:
	struct Diagnostic {
		toml::source_position at;
		std::string message;
	};

	void error(toml::source_position at, std::string message) { diagnostics_.push_back({at, std::move(message)}); }
	void error(const toml::node& node, std::string message) { error(node.source().begin, std::move(message)); }

	void check_keys(const toml::table& table, std::initializer_list<std::string_view> allowed,
			const std::string& where);
	const toml::node* need(const toml::table& table, std::string_view key, const std::string& where);
	std::optional<std::string> text(const toml::node* node, std::string_view key, std::string_view example = "");
	std::optional<Duration> duration(const toml::node* node, std::string_view key);
	std::optional<std::string> name(const toml::table& table, const std::string& where);

	void parse_session(const toml::table& table);
	void parse_section(const toml::table& root, Section section);
	std::optional<Rights> parse_rights(const toml::node& node);
	bool parse_resources(const toml::table& table, std::string_view key, std::vector<Located>& out);
	void check_rights_fit(const toml::node& rights_node, const std::vector<Located>& resources);
	void parse_rule(const toml::table& table, Section section);
	void check_across_rules();

	std::string file_;
	std::vector<Diagnostic> diagnostics_;
	Profile profile_;
	std::map<std::string, toml::source_position, std::less<>> rule_names_;
	std::vector<ParsedRule> baseline_, grantable_, never_;
};

std::string_view section_name(Section section)
{
	switch (section) {
	case Section::baseline: return "baseline";
	case Section::grantable: return "grantable";
	case Section::never: return "never";
	}
	return "";
}

void ProfileParser::check_keys(const toml::table& table, std::initializer_list<std::string_view> allowed,
			       const std::string& where)
{
	for (auto&& [key, value] : table) {
		if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end())
			continue;
		error(key.source().begin,
		      "unknown key " + in_quotes(key.str()) + " " + where + suggestion(key.str(), allowed, false));
	}
}

const toml::node* ProfileParser::need(const toml::table& table, std::string_view key, const std::string& where)
{
	const toml::node* node = table.get(key);
	if (!node)
		error(table.source().begin, "missing key " + std::string(key) + " " + where);
	return node;
}

std::optional<std::string> ProfileParser::text(const toml::node* node, std::string_view key, std::string_view example)
{
	if (!node)
		return std::nullopt;
	if (const auto* s = node->as_string()) {
		if (!s->get().empty())
			return s->get();
		error(*node, std::string(key) + " must not be empty");
		return std::nullopt;
	}
	error(*node, std::string(key) + " must be a string" + std::string(example) + ", not " + a_type(*node));
	return std::nullopt;
}

std::optional<Duration> ProfileParser::duration(const toml::node* node, std::string_view key)
{
	auto value = text(node, key, " such as \"30m\"");
	if (!value)
		return std::nullopt;
	auto d = parse_duration(*value);
	if (!d) {
		error(*node, std::string(key) + ": " + d.error().message);
		return std::nullopt;
	}
	return d.value();
}

std::optional<std::string> ProfileParser::name(const toml::table& table, const std::string& where)
{
	const toml::node* node = need(table, "name", where);
	auto value = text(node, "name");
	if (!value)
		return std::nullopt;
	if (!valid_name(*value)) {
		error(*node, "name " + in_quotes(*value) + " must be 1-" + std::to_string(max_name) +
				     " characters of a-z, 0-9, \"-\" and \"_\", starting with a letter or digit");
		return std::nullopt;
	}
	return value;
}

Profile ProfileParser::parse(std::string_view input)
{
	toml::table root;
	try {
		root = toml::parse(input, std::string_view(file_));
	} catch (const toml::parse_error& e) {
		error(e.source().begin, std::string(e.description()));
		return {};
	}
	const std::string top = "at the top level";
	check_keys(root, {"name", "description", "session", "baseline", "grantable", "never"}, top);

	if (auto n = name(root, top)) {
		std::string stem = std::filesystem::path(file_).stem().string();
		if (*n != stem)
			error(*root.get("name"), "name " + in_quotes(*n) + " must match the file name " +
							 in_quotes(std::filesystem::path(file_).filename().string()) +
							 " (name = " + in_quotes(stem) + ")");
		profile_.name = *n;
	}
	if (auto d = text(need(root, "description", top), "description"))
		profile_.description = *d;

	if (const toml::node* session = root.get("session")) {
		if (const auto* table = session->as_table())
			parse_session(*table);
		else
			error(*session, "session must be a table ([session]), not " + a_type(*session));
	} else {
		error(root.source().begin, "missing table [session]");
	}

	for (Section s : {Section::baseline, Section::grantable, Section::never})
		parse_section(root, s);
	check_across_rules();
	return std::move(profile_);
}

void ProfileParser::parse_session(const toml::table& table)
{
	const std::string where = "in [session]";
	check_keys(table, {"mode", "max_duration", "max_delegation_depth"}, where);
	SessionSettings& s = profile_.session;
	if (auto mode = text(table.get("mode"), "mode")) {
		if (*mode == "enforce")
			s.mode = Mode::enforce;
		else if (*mode == "permissive")
			s.mode = Mode::permissive;
		else
			error(*table.get("mode"), "mode " + in_quotes(*mode) + " must be \"enforce\" or \"permissive\"");
	}
	if (auto d = duration(need(table, "max_duration", where), "max_duration"))
		s.max_duration = *d;
	if (const toml::node* depth = table.get("max_delegation_depth")) {
		const auto* n = depth->as_integer();
		if (!n)
			error(*depth, "max_delegation_depth must be an integer, not " + a_type(*depth));
		else if (n->get() < 0 || n->get() > max_delegation_depth)
			error(*depth, "max_delegation_depth " + std::to_string(n->get()) + " is out of range 0-" +
					      std::to_string(max_delegation_depth));
		else
			s.max_delegation_depth = static_cast<unsigned>(n->get());
	}
}

void ProfileParser::parse_section(const toml::table& root, Section section)
{
	std::string key(section_name(section));
	const toml::node* node = root.get(key);
	if (!node)
		return;
	const auto* array = node->as_array();
	if (!array) {
		error(*node, key + " must be an array of tables ([[" + key + "]]), not " + a_type(*node));
		return;
	}
	for (const toml::node& element : *array) {
		if (const auto* table = element.as_table())
			parse_rule(*table, section);
		else
			error(element, key + " entries must be tables, not " + a_type(element));
	}
}

std::optional<Rights> ProfileParser::parse_rights(const toml::node& node)
{
	const auto* array = node.as_array();
	if (!array) {
		error(node, "rights must be an array of strings such as [\"read\", \"write\"], not " + a_type(node));
		return std::nullopt;
	}
	if (array->empty()) {
		error(node, "rights must not be empty");
		return std::nullopt;
	}
	Rights rights;
	bool ok = true;
	for (const toml::node& element : *array) {
		const auto* s = element.as_string();
		if (!s) {
			error(element, "rights must be strings, not " + a_type(element));
			ok = false;
			continue;
		}
		auto right = right_from_name(s->get());
		if (!right) {
			error(element, "unknown right " + in_quotes(s->get()) +
					       suggestion(s->get(),
							  {"read", "write", "create", "delete", "exec", "map-exec",
							   "connect", "send", "bind"},
							  true) +
					       " (rights: " + std::string(rights_list) + ")");
			ok = false;
		} else if (rights.has(*right)) {
			error(element, "right " + in_quotes(s->get()) + " is listed twice");
			ok = false;
		} else {
			rights = rights | Rights{*right};
		}
	}
	return ok ? std::optional(rights) : std::nullopt;
}

bool ProfileParser::parse_resources(const toml::table& table, std::string_view key, std::vector<Located>& out)
{
	const toml::node* node = table.get(key);
	if (!node)
		return true;
	const bool paths = key == "paths";
	const auto* array = node->as_array();
	if (!array) {
		error(*node, std::string(key) + " must be an array of strings, not " + a_type(*node));
		return false;
	}
	if (array->empty()) {
		error(*node, std::string(key) + " must not be empty; leave the key out instead");
		return false;
	}
	bool ok = true;
	for (const toml::node& element : *array) {
		const auto* s = element.as_string();
		if (!s) {
			error(element, std::string(key) + " must be strings, not " + a_type(element));
			ok = false;
			continue;
		}
		std::string_view value = s->get();
		bool looks_like_endpoint = value.starts_with("tcp:") || value.starts_with("udp:") ||
					   value.starts_with("unix:");
		if (paths && looks_like_endpoint) {
			error(element, in_quotes(value) + " is an endpoint; list it in endpoints");
			ok = false;
			continue;
		}
		if (!paths && (value.starts_with("/") || value.starts_with("{"))) {
			error(element, in_quotes(value) + " is a path; list it in paths, or write " +
					       in_quotes("unix:" + std::string(value)) + " for a unix socket");
			ok = false;
			continue;
		}
		auto r = paths ? detail::parse_path_template(value) : detail::parse_endpoint_template(value);
		if (!r) {
			error(element, r.error().message);
			ok = false;
			continue;
		}
		auto same = std::find_if(out.begin(), out.end(), [&](const Located& l) { return l.resource == r.value(); });
		if (same != out.end()) {
			error(element, in_quotes(value) + " is listed twice (as " + to_string(r.value()) + ")");
			ok = false;
			continue;
		}
		out.push_back({std::move(r.value()), element.source().begin});
	}
	return ok;
}

void ProfileParser::check_rights_fit(const toml::node& rights_node, const std::vector<Located>& resources)
{
	for (const toml::node& element : *rights_node.as_array()) {
		Right right = *right_from_name(element.as_string()->get());
		std::vector<ResourceKind> reported;
		for (const Located& l : resources) {
			ResourceKind kind = l.resource.kind;
			if (applicable_rights(kind).has(right) ||
			    std::find(reported.begin(), reported.end(), kind) != reported.end())
				continue;
			reported.push_back(kind);
			std::string message = "right " + in_quotes(right_name(right)) + " does not apply to " +
					      std::string(detail::kind_plural(kind));
			if (kind == ResourceKind::path)
				message += "; sockets are endpoints such as \"unix:/run/app.sock\" or "
					   "\"tcp:192.0.2.10:443\"";
			else if (right == Right::send)
				message += "; send covers unconnected datagrams (udp and unix)";
			error(element, message);
		}
	}
}

void ProfileParser::parse_rule(const toml::table& table, Section section)
{
	std::string header = "[[" + std::string(section_name(section)) + "]]";
	auto rule_name = name(table, "in " + header);
	std::string where = "in " + header + (rule_name ? " " + in_quotes(*rule_name) : "");
	bool ok = rule_name.has_value();
	if (rule_name) {
		// Sections are parsed one after another, not in file order: whichever
		// comes later in the file is the duplicate.
		toml::source_position here = table.get("name")->source().begin;
		auto [seen, inserted] = rule_names_.emplace(*rule_name, here);
		if (!inserted) {
			toml::source_position first = seen->second;
			toml::source_position later = here;
			if (std::pair(here.line, here.column) < std::pair(first.line, first.column)) {
				std::swap(first, later);
				seen->second = first;
			}
			error(later, "duplicate rule name " + in_quotes(*rule_name) + " (first defined at line " +
					     std::to_string(first.line) + ")");
			ok = false;
		}
	}

	switch (section) {
	case Section::grantable:
		check_keys(table, {"name", "description", "rights", "paths", "endpoints", "max_ttl", "approval"}, where);
		break;
	case Section::baseline:
	case Section::never:
		check_keys(table, {"name", "description", "rights", "paths", "endpoints"}, where);
		break;
	}

	GrantableRule rule;
	rule.name = rule_name.value_or("");
	if (const toml::node* d = table.get("description")) {
		auto description = text(d, "description");
		ok = ok && description;
		rule.description = description.value_or("");
	}

	// A never rule without rights forbids everything on its resources.
	const toml::node* rights_node = section == Section::never ? table.get("rights") : need(table, "rights", where);
	Rights rights = Rights::all();
	bool rights_ok = section == Section::never;
	if (rights_node) {
		auto parsed_rights = parse_rights(*rights_node);
		rights_ok = parsed_rights.has_value();
		rights = parsed_rights.value_or(Rights{});
	}
	ok = ok && rights_ok;

	ParsedRule parsed;
	bool resources_ok = parse_resources(table, "paths", parsed.resources);
	resources_ok = parse_resources(table, "endpoints", parsed.resources) && resources_ok;
	if (!table.get("paths") && !table.get("endpoints")) {
		error(table.source().begin, "no paths or endpoints " + where);
		resources_ok = false;
	}
	ok = ok && resources_ok;
	if (rights_ok && rights_node && resources_ok) {
		std::size_t before = diagnostics_.size();
		check_rights_fit(*rights_node, parsed.resources);
		ok = ok && diagnostics_.size() == before;
	}

	if (section == Section::grantable) {
		auto ttl = duration(need(table, "max_ttl", where), "max_ttl");
		if (ttl && profile_.session.max_duration.count() && *ttl > profile_.session.max_duration) {
			error(*table.get("max_ttl"), "max_ttl " + format_duration(*ttl) +
							     " is longer than the session's max_duration " +
							     format_duration(profile_.session.max_duration));
			ttl.reset();
		}
		ok = ok && ttl;
		rule.max_ttl = ttl.value_or(Duration::zero());
		if (auto approval = text(need(table, "approval", where), "approval")) {
			if (*approval == "auto") {
				rule.approval = Approval::automatic;
			} else if (*approval == "required") {
				rule.approval = Approval::required;
			} else {
				error(*table.get("approval"), "approval " + in_quotes(*approval) +
								      " must be \"auto\" or \"required\"");
				ok = false;
			}
		} else {
			ok = false;
		}
	}

	// Only whole rules join the profile: the checks across rules would
	// otherwise report the fallout of errors already reported.
	if (!ok)
		return;
	rule.rights = rights;
	for (const Located& l : parsed.resources)
		rule.resources.push_back(l.resource);
	switch (section) {
	case Section::baseline:
		parsed.index = profile_.baseline.size();
		profile_.baseline.push_back(std::move(rule));
		baseline_.push_back(std::move(parsed));
		break;
	case Section::grantable:
		parsed.index = profile_.grantable.size();
		profile_.grantable.push_back(std::move(rule));
		grantable_.push_back(std::move(parsed));
		break;
	case Section::never:
		parsed.index = profile_.never.size();
		profile_.never.push_back(std::move(rule));
		never_.push_back(std::move(parsed));
		break;
	}
}

// Templates compare lexically: "{workspace}/a" lies below "{workspace}" for
// every workspace, so what is found here is certain. What depends on the
// session's values ({workspace} inside {home}?) is left to expand_baseline.
void ProfileParser::check_across_rules()
{
	for (const ParsedRule& b : baseline_) {
		const Rule& rule = profile_.baseline[b.index];
		for (const Located& l : b.resources) {
			for (const ParsedRule& n : never_) {
				const Rule& never = profile_.never[n.index];
				Rights hit = rule.rights & never.rights;
				for (const Located& forbidden : n.resources) {
					if (hit.empty() || !resources_overlap(l.resource, forbidden.resource))
						continue;
					error(l.at, "baseline rule " + in_quotes(rule.name) + " breaks a never rule: " +
							    detail::never_conflict(hit, l.resource, forbidden.resource,
										   never.name));
				}
			}
		}
	}
	for (const ParsedRule& g : grantable_) {
		const GrantableRule& rule = profile_.grantable[g.index];
		for (const Located& l : g.resources) {
			for (const ParsedRule& n : never_) {
				const Rule& never = profile_.never[n.index];
				Rights hit = rule.rights & never.rights;
				for (const Located& forbidden : n.resources) {
					if (hit.empty() || !detail::covers(forbidden.resource, l.resource))
						continue;
					error(l.at, "grantable rule " + in_quotes(rule.name) + " can never be granted: " +
							    detail::never_conflict(hit, l.resource, forbidden.resource,
										   never.name));
				}
			}
			Rights from_baseline;
			std::string givers;
			for (const ParsedRule& b : baseline_) {
				const Rule& base = profile_.baseline[b.index];
				bool covering = std::any_of(b.resources.begin(), b.resources.end(), [&](const Located& bl) {
					return resource_within(l.resource, bl.resource);
				});
				if (!covering || !base.rights.intersects(rule.rights))
					continue;
				from_baseline = from_baseline | base.rights;
				givers += (givers.empty() ? "" : ", ") + in_quotes(base.name);
			}
			if (from_baseline.covers(rule.rights))
				error(l.at, "grantable rule " + in_quotes(rule.name) + " gives " + to_string(rule.rights) +
						    " on " + to_string(l.resource) + ", which baseline rule " + givers +
						    " already gives for the whole session; its approval and max_ttl "
						    "would never apply");
		}
	}
}

std::vector<Error> ProfileParser::errors()
{
	std::stable_sort(diagnostics_.begin(), diagnostics_.end(), [](const Diagnostic& a, const Diagnostic& b) {
		return std::pair(a.at.line, a.at.column) < std::pair(b.at.line, b.at.column);
	});
	std::vector<Error> out;
	for (const Diagnostic& d : diagnostics_)
		out.push_back(Error{file_ + ":" + std::to_string(d.at.line) + ":" + std::to_string(d.at.column) +
				    ": " + d.message});
	return out;
}

struct FileCloser {
	void operator()(std::FILE* f) const { std::fclose(f); }
};

Result<std::string> read_file(const std::string& path)
{
	std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
	if (!file)
		return Error::from_errno("open " + path);
	std::string content;
	char buffer[8192];
	std::size_t n;
	while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0)
		content.append(buffer, n);
	if (std::ferror(file.get()))
		return Error::from_errno("read " + path);
	return content;
}

} // namespace

Result<Profile> parse_profile(std::string_view text, std::string_view filename)
{
	ProfileParser parser(filename);
	Profile profile = parser.parse(text);
	std::vector<Error> errors = parser.errors();
	if (errors.empty())
		return profile;
	std::string message;
	for (const Error& e : errors)
		message += (message.empty() ? "" : "\n") + e.message;
	return Error{message};
}

std::vector<Error> check_profile(std::string_view text, std::string_view filename)
{
	ProfileParser parser(filename);
	(void)parser.parse(text);
	return parser.errors();
}

Result<Profile> load_profile(const std::string& path)
{
	auto content = read_file(path);
	if (!content)
		return content.error();
	return parse_profile(content.value(), path);
}

std::vector<Error> check_file(const std::string& path)
{
	auto content = read_file(path);
	if (!content)
		return {content.error()};
	return check_profile(content.value(), path);
}

} // namespace grantd::policy
