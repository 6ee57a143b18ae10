// The auditor's two questions, answered from the log:
// "why could session S write file F at time T" and "what did grant G allow".
#pragma once

#include "audit/record.h"
#include "audit/verify.h"

#include <grantd/abi.h>
#include <grantd/result.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace grantd::audit {

// A grant and the records that led to it, each with its seq and hash.
struct GrantChain {
	Record grant;
	std::optional<Record> request;
	std::vector<Record> evaluations;
	std::vector<Record> approvals;

	const Grant& body() const { return std::get<Grant>(grant.body); }
};

struct AccessReason {
	GrantChain chain;
	// The object of the grant that names the path or an ancestor of it.
	FileObject covering;
	// A derived grant's parent, grandparent, … each with its own reasons.
	std::vector<GrantChain> ancestry;
};

struct GrantReport {
	GrantChain chain;
	std::vector<GrantChain> ancestry;
	// What ended it before its deadline, if anything: its revocation (or an
	// ancestor's, which cascaded), or the closing of its session.
	std::optional<Record> revocation;
	std::optional<Record> session_closed;
	// The daemon's sweep after the deadline.
	std::optional<Record> expiry;
	// Grants derived from it, at any depth, in log order.
	std::vector<Record> derived;
};

// The records that explain grants, indexed. Kernel decisions are left out:
// they are most of a log and explain nothing.
class History {
public:
	// Reads the log up to its first failure; check verification() before
	// trusting answers.
	static Result<History> load(const std::string& path, const std::optional<Head>& expected_head = std::nullopt);
	static Result<History> load_buffer(std::span<const std::uint8_t> log,
					   const std::optional<Head>& expected_head = std::nullopt);

	// Records must come in log order.
	void add(const Record& record);
	const VerifyReport& verification() const { return verification_; }

	// The grants live at wall time at_wall_ns for the session whose rights
	// include right and that name path or an ancestor of it. Live: issued
	// by then, deadline not reached, not revoked (itself or through an
	// ancestor), session not closed, and every ancestor grant live too.
	// Session baselines come from profiles, not grants, and are not listed.
	std::vector<AccessReason> why_allowed(std::uint64_t session_id, std::string_view path, grantd_right right,
					      std::uint64_t at_wall_ns) const;

	std::optional<GrantReport> grant_report(std::uint64_t grant_id) const;

private:
	using Index = std::unordered_map<std::uint64_t, std::vector<std::size_t>>;

	// The latest record in index[id] before seq (ids should be unique, but
	// a log that reuses them is still read as it happened).
	const Record* latest_before(const Index& index, std::uint64_t id, std::uint64_t seq) const;
	std::vector<Record> all_before(const Index& index, std::uint64_t id, std::uint64_t seq) const;
	GrantChain chain_of(const Record& grant) const;
	std::vector<GrantChain> ancestry_of(const Record& grant) const;
	const Record* parent_of(const Record& grant) const;
	// The record that ended the grant by at_wall_ns (any, if at_wall_ns is UINT64_MAX).
	const Record* revocation_of(const Record& grant, std::uint64_t at_wall_ns) const;
	const Record* session_close_of(const Record& grant, std::uint64_t at_wall_ns) const;
	bool live_at(const Record& grant, std::uint64_t at_wall_ns) const;

	std::vector<Record> records_;
	std::vector<std::size_t> grants_;
	Index grant_by_id_, request_by_id_, evaluations_by_request_, approvals_by_request_;
	// Revocations by every grant id they end, cascade included.
	Index revocations_by_grant_, expiry_by_grant_, closes_by_session_, children_by_grant_;
	VerifyReport verification_;
};

} // namespace grantd::audit
