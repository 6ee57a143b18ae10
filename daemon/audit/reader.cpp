#include "audit/reader.h"

#include "audit/paths.h"
#include "audit/scan.h"
#include "unique_fd.h"

#include <fcntl.h>

#include <algorithm>
#include <type_traits>
#include <unordered_set>

namespace grantd::audit {

namespace {

// Session and grant conditions reach records that carry only a request or
// grant id; the ids are learned from every record as it passes, whether or
// not it is selected, since requests and grants precede what refers to them.
class Matcher {
public:
	explicit Matcher(const RecordFilter& filter) : filter_(filter) {}

	bool operator()(const Record& record)
	{
		bool session = !filter_.session_id || about_session(record.body, *filter_.session_id);
		bool grant = !filter_.grant_id || about_grant(record.body, *filter_.grant_id);
		return session && grant && record.wall_ns >= filter_.from_wall_ns &&
		       record.wall_ns < filter_.until_wall_ns &&
		       (!filter_.path_prefix || names_path(record.body, *filter_.path_prefix));
	}

private:
	bool about_session(const Body& body, std::uint64_t session)
	{
		if (auto* r = std::get_if<Request>(&body)) {
			if (r->session_id != session)
				return false;
			session_requests_.insert(r->request_id);
			return true;
		}
		if (auto* e = std::get_if<Evaluation>(&body))
			return session_requests_.count(e->request_id) > 0;
		if (auto* a = std::get_if<Approval>(&body))
			return session_requests_.count(a->request_id) > 0;
		if (auto* g = std::get_if<Grant>(&body)) {
			if (g->session_id != session)
				return false;
			session_grants_.insert(g->grant_id);
			return true;
		}
		if (auto* d = std::get_if<Derivation>(&body))
			return d->child_session_id == session || d->parent_session_id == session;
		if (auto* r = std::get_if<Revocation>(&body))
			return any_of(*r, session_grants_);
		if (auto* e = std::get_if<Expiry>(&body))
			return session_grants_.count(e->grant_id) > 0;
		if (auto* s = std::get_if<SessionOpened>(&body))
			return s->session_id == session;
		if (auto* s = std::get_if<SessionClosed>(&body))
			return s->session_id == session;
		if (auto* k = std::get_if<KernelDecision>(&body))
			return k->session_id == session;
		return false;
	}

	bool about_grant(const Body& body, std::uint64_t grant)
	{
		if (auto* g = std::get_if<Grant>(&body)) {
			if (g->grant_id == grant)
				return true;
			if (g->parent_grant_id != grant && !derived_.count(g->parent_grant_id))
				return false;
			derived_.insert(g->grant_id);
			return true;
		}
		if (auto* r = std::get_if<Revocation>(&body))
			return r->grant_id == grant ||
			       std::find(r->cascade_grant_ids.begin(), r->cascade_grant_ids.end(), grant) !=
				       r->cascade_grant_ids.end();
		if (auto* e = std::get_if<Expiry>(&body))
			return e->grant_id == grant;
		return false;
	}

	static bool any_of(const Revocation& r, const std::unordered_set<std::uint64_t>& grants)
	{
		return grants.count(r.grant_id) ||
		       std::any_of(r.cascade_grant_ids.begin(), r.cascade_grant_ids.end(),
				   [&](std::uint64_t id) { return grants.count(id) > 0; });
	}

	static bool names_path(const Body& body, const std::string& prefix)
	{
		auto within = [&](const std::string& path) { return path_within(path, prefix); };
		if (auto* r = std::get_if<Request>(&body))
			return std::any_of(r->resources.begin(), r->resources.end(), within);
		if (auto* g = std::get_if<Grant>(&body))
			return std::any_of(g->objects.begin(), g->objects.end(),
					   [&](const FileObject& o) { return within(o.path); });
		if (auto* s = std::get_if<SessionOpened>(&body))
			return within(s->workspace);
		if (auto* s = std::get_if<SessionClosed>(&body))
			return within(s->workspace);
		return false;
	}

	const RecordFilter& filter_;
	std::unordered_set<std::uint64_t> session_requests_, session_grants_, derived_;
};

Result<VerifyReport> read(ByteSource& source, const RecordFilter& filter, const Visitor& visit,
			  const std::optional<Head>& expected_head)
{
	Matcher matches(filter);
	RecordVisitor visitor = [&](const Record& record) { return !matches(record) || visit(record); };
	return scan(source, expected_head, &visitor);
}

} // namespace

Result<VerifyReport> read_log(const std::string& path, const RecordFilter& filter, const Visitor& visit,
			      const std::optional<Head>& expected_head)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd.valid())
		return Error::from_errno("open " + path);
	FileSource source(fd.get());
	auto report = read(source, filter, visit, expected_head);
	if (!report)
		return report.error().context("read " + path);
	return report;
}

Result<VerifyReport> read_log_buffer(std::span<const std::uint8_t> log, const RecordFilter& filter,
				     const Visitor& visit, const std::optional<Head>& expected_head)
{
	BufferSource source(log);
	return read(source, filter, visit, expected_head);
}

} // namespace grantd::audit
