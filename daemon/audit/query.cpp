#include "audit/query.h"

#include "audit/paths.h"
#include "audit/reader.h"

#include <algorithm>

namespace grantd::audit {

namespace {

const Grant& grant_of(const Record& record) { return std::get<Grant>(record.body); }

// The kernel holds only the boot-time deadline; a grant recorded without its
// wall-clock twin is read by the boot clock's offset at issue time.
std::uint64_t deadline_wall(const Record& record)
{
	const Grant& grant = grant_of(record);
	if (grant.deadline_wall_ns)
		return grant.deadline_wall_ns;
	if (grant.deadline_boot_ns == GRANTD_NO_DEADLINE)
		return UINT64_MAX;
	if (grant.deadline_boot_ns <= record.boot_ns)
		return record.wall_ns;
	std::uint64_t left = grant.deadline_boot_ns - record.boot_ns;
	return left > UINT64_MAX - record.wall_ns ? UINT64_MAX : record.wall_ns + left;
}

} // namespace

Result<History> History::load(const std::string& path, const std::optional<Head>& expected_head)
{
	History history;
	auto report = read_log(
		path, {},
		[&](const Record& record) {
			history.add(record);
			return true;
		},
		expected_head);
	if (!report)
		return report.error();
	history.verification_ = *report;
	return history;
}

Result<History> History::load_buffer(std::span<const std::uint8_t> log, const std::optional<Head>& expected_head)
{
	History history;
	auto report = read_log_buffer(
		log, {},
		[&](const Record& record) {
			history.add(record);
			return true;
		},
		expected_head);
	if (!report)
		return report.error();
	history.verification_ = *report;
	return history;
}

void History::add(const Record& record)
{
	if (std::holds_alternative<KernelDecision>(record.body))
		return;
	std::size_t at = records_.size();
	records_.push_back(record);
	const Body& body = records_.back().body;
	if (auto* r = std::get_if<Request>(&body)) {
		request_by_id_[r->request_id].push_back(at);
	} else if (auto* e = std::get_if<Evaluation>(&body)) {
		evaluations_by_request_[e->request_id].push_back(at);
	} else if (auto* a = std::get_if<Approval>(&body)) {
		approvals_by_request_[a->request_id].push_back(at);
	} else if (auto* g = std::get_if<Grant>(&body)) {
		grant_by_id_[g->grant_id].push_back(at);
		grants_.push_back(at);
		if (g->parent_grant_id)
			children_by_grant_[g->parent_grant_id].push_back(at);
	} else if (auto* v = std::get_if<Revocation>(&body)) {
		revocations_by_grant_[v->grant_id].push_back(at);
		for (std::uint64_t id : v->cascade_grant_ids)
			if (id != v->grant_id)
				revocations_by_grant_[id].push_back(at);
	} else if (auto* x = std::get_if<Expiry>(&body)) {
		expiry_by_grant_[x->grant_id].push_back(at);
	} else if (auto* c = std::get_if<SessionClosed>(&body)) {
		closes_by_session_[c->session_id].push_back(at);
	}
}

const Record* History::latest_before(const Index& index, std::uint64_t id, std::uint64_t seq) const
{
	auto it = index.find(id);
	if (it == index.end())
		return nullptr;
	const Record* found = nullptr;
	for (std::size_t at : it->second)
		if (records_[at].seq < seq)
			found = &records_[at];
	return found;
}

std::vector<Record> History::all_before(const Index& index, std::uint64_t id, std::uint64_t seq) const
{
	std::vector<Record> out;
	auto it = index.find(id);
	if (it == index.end())
		return out;
	for (std::size_t at : it->second)
		if (records_[at].seq < seq)
			out.push_back(records_[at]);
	return out;
}

GrantChain History::chain_of(const Record& grant) const
{
	GrantChain chain;
	chain.grant = grant;
	std::uint64_t request_id = grant_of(grant).from_request_id;
	const Record* request = request_id ? latest_before(request_by_id_, request_id, grant.seq) : nullptr;
	if (!request)
		return chain;
	chain.request = *request;
	auto between = [&](std::vector<Record> records) {
		std::erase_if(records, [&](const Record& r) { return r.seq < request->seq; });
		return records;
	};
	chain.evaluations = between(all_before(evaluations_by_request_, request_id, grant.seq));
	chain.approvals = between(all_before(approvals_by_request_, request_id, grant.seq));
	return chain;
}

const Record* History::parent_of(const Record& grant) const
{
	std::uint64_t parent = grant_of(grant).parent_grant_id;
	return parent ? latest_before(grant_by_id_, parent, grant.seq) : nullptr;
}

std::vector<GrantChain> History::ancestry_of(const Record& grant) const
{
	std::vector<GrantChain> ancestry;
	// parent_of only looks back in the log, so this ends.
	for (const Record* parent = parent_of(grant); parent; parent = parent_of(*parent))
		ancestry.push_back(chain_of(*parent));
	return ancestry;
}

const Record* History::revocation_of(const Record& grant, std::uint64_t at_wall_ns) const
{
	const Record* first = nullptr;
	for (const Record* g = &grant; g; g = parent_of(*g)) {
		auto it = revocations_by_grant_.find(grant_of(*g).grant_id);
		if (it == revocations_by_grant_.end())
			continue;
		for (std::size_t at : it->second) {
			const Record& r = records_[at];
			if (r.seq > g->seq && r.wall_ns <= at_wall_ns && (!first || r.seq < first->seq))
				first = &r;
		}
	}
	return first;
}

const Record* History::session_close_of(const Record& grant, std::uint64_t at_wall_ns) const
{
	auto it = closes_by_session_.find(grant_of(grant).session_id);
	if (it == closes_by_session_.end())
		return nullptr;
	for (std::size_t at : it->second)
		if (records_[at].seq > grant.seq && records_[at].wall_ns <= at_wall_ns)
			return &records_[at];
	return nullptr;
}

bool History::live_at(const Record& grant, std::uint64_t at_wall_ns) const
{
	if (grant.wall_ns > at_wall_ns || at_wall_ns >= deadline_wall(grant))
		return false;
	if (revocation_of(grant, at_wall_ns) || session_close_of(grant, at_wall_ns))
		return false;
	if (auto it = expiry_by_grant_.find(grant_of(grant).grant_id); it != expiry_by_grant_.end())
		for (std::size_t at : it->second)
			if (records_[at].seq > grant.seq && records_[at].wall_ns <= at_wall_ns)
				return false;
	// Delegation narrows: a derived grant lives only while its parent does.
	if (grant_of(grant).parent_grant_id) {
		const Record* parent = parent_of(grant);
		if (!parent || !live_at(*parent, at_wall_ns))
			return false;
	}
	return true;
}

std::vector<AccessReason> History::why_allowed(std::uint64_t session_id, std::string_view path, grantd_right right,
					       std::uint64_t at_wall_ns) const
{
	std::vector<AccessReason> reasons;
	for (std::size_t at : grants_) {
		const Record& record = records_[at];
		const Grant& grant = grant_of(record);
		if (grant.session_id != session_id || !(grant.rights & GRANTD_RIGHT_BIT(right)))
			continue;
		auto covering = std::find_if(grant.objects.begin(), grant.objects.end(),
					     [&](const FileObject& object) { return path_within(path, object.path); });
		if (covering == grant.objects.end() || !live_at(record, at_wall_ns))
			continue;
		reasons.push_back(AccessReason{chain_of(record), *covering, ancestry_of(record)});
	}
	return reasons;
}

std::optional<GrantReport> History::grant_report(std::uint64_t grant_id) const
{
	auto it = grant_by_id_.find(grant_id);
	if (it == grant_by_id_.end())
		return std::nullopt;
	const Record& record = records_[it->second.back()];
	GrantReport report;
	report.chain = chain_of(record);
	report.ancestry = ancestry_of(record);
	if (const Record* revocation = revocation_of(record, UINT64_MAX))
		report.revocation = *revocation;
	if (const Record* close = session_close_of(record, UINT64_MAX))
		report.session_closed = *close;
	if (auto expiry = expiry_by_grant_.find(grant_id); expiry != expiry_by_grant_.end())
		for (std::size_t at : expiry->second)
			if (records_[at].seq > record.seq) {
				report.expiry = records_[at];
				break;
			}
	std::vector<const Record*> pending{&record};
	while (!pending.empty()) {
		const Record* parent = pending.back();
		pending.pop_back();
		auto children = children_by_grant_.find(grant_of(*parent).grant_id);
		if (children == children_by_grant_.end())
			continue;
		for (std::size_t at : children->second) {
			const Record& child = records_[at];
			// A child names its parent by id: the latest grant with that id before it.
			if (child.seq > parent->seq && parent_of(child) == parent) {
				report.derived.push_back(child);
				pending.push_back(&child);
			}
		}
	}
	std::sort(report.derived.begin(), report.derived.end(),
		  [](const Record& a, const Record& b) { return a.seq < b.seq; });
	return report;
}

} // namespace grantd::audit
