#include "template.h"

#include <algorithm>

namespace grantd::policy {

namespace {

std::string in_quotes(std::string_view text)
{
	return "\"" + std::string(text) + "\"";
}

std::string join(const std::vector<Resource>& resources)
{
	std::string out;
	for (const Resource& r : resources)
		out += (out.empty() ? "" : ", ") + to_string(r);
	return out;
}

using Expanded = Envelope::Expanded;

template <class R>
Result<std::vector<Expanded>> expand_rules(const std::vector<R>& rules, const Context& context)
{
	std::vector<Expanded> out;
	for (const Rule& rule : rules) {
		Expanded e{&rule, {}};
		for (const Resource& r : rule.resources) {
			auto concrete = detail::expand(r, context);
			if (!concrete)
				return concrete.error().context("rule " + in_quotes(rule.name));
			e.resources.push_back(std::move(concrete.value()));
		}
		out.push_back(std::move(e));
	}
	return out;
}

bool rule_covers(const std::vector<Resource>& rule_resources, const Resource& r)
{
	return std::any_of(rule_resources.begin(), rule_resources.end(),
			   [&](const Resource& mine) { return resource_within(r, mine); });
}

Result<void> check_request(const Request& request)
{
	if (request.rights.empty())
		return Error{"the request names no rights"};
	if (request.resources.empty())
		return Error{"the request names no resources"};
	if (request.ttl <= Duration::zero())
		return Error{"the request's ttl must be positive"};
	if (request.purpose.empty())
		return Error{"the request states no purpose"};
	for (const Resource& r : request.resources) {
		// Round-tripping through the parser rejects hand-built resources that
		// are not canonical (relative paths, host bits, unmapped IPv4).
		auto parsed = parse_resource(to_string(r));
		if (!parsed)
			return parsed.error();
		if (parsed.value() != r)
			return Error{"resource " + in_quotes(to_string(r)) + " is not in canonical form"};
		Rights misfit = request.rights.without(applicable_rights(r.kind));
		if (!misfit.empty())
			return Error{"right " + to_string(misfit) + " does not apply to " +
				     std::string(detail::kind_plural(r.kind)) + " (" + to_string(r) + ")"};
	}
	return {};
}

// The first never rule the request runs into, as a denial.
std::optional<Decision> never_denial(const std::vector<Expanded>& never, const Request& request)
{
	for (const Resource& asked : request.resources) {
		for (const Expanded& n : never) {
			Rights hit = request.rights & n.rule->rights;
			if (hit.empty())
				continue;
			for (const Resource& forbidden : n.resources)
				if (resources_overlap(asked, forbidden))
					return Decision{Verdict::deny, n.rule->name, Duration::zero(), false,
							detail::never_conflict(hit, asked, forbidden, n.rule->name)};
		}
	}
	return std::nullopt;
}

std::string outside_envelope(const std::vector<Expanded>& grantable, const std::vector<Expanded>& baseline,
			     const Request& request)
{
	std::string what = to_string(request.rights);
	for (const Resource& r : request.resources) {
		bool covered = std::any_of(grantable.begin(), grantable.end(), [&](const Expanded& g) {
			return g.rule->rights.covers(request.rights) && rule_covers(g.resources, r);
		});
		if (covered)
			continue;
		std::string reason = "outside the envelope: no grantable rule gives " + what + " on " + to_string(r);
		for (const Expanded& b : baseline)
			if (b.rule->rights.covers(request.rights) && rule_covers(b.resources, r))
				return reason + " (baseline rule " + in_quotes(b.rule->name) +
				       " already gives it for the whole session)";
		return reason;
	}
	return "outside the envelope: no single grantable rule gives " + what + " on all of " +
	       join(request.resources) + "; request them separately";
}

Instant add_saturating(Instant now, Duration ttl)
{
	auto span = std::chrono::duration_cast<Instant>(ttl);
	return span > no_expiry - now ? no_expiry : now + span;
}

std::string describe_remaining(Instant expires, Instant now)
{
	if (expires == no_expiry)
		return "never expires";
	return "ends in " + format_duration(std::chrono::duration_cast<Duration>(expires - now));
}

} // namespace

Result<Envelope> Envelope::expand(const Profile& profile, const Context& context)
{
	auto ctx = detail::check_context(context);
	if (!ctx)
		return ctx.error();
	auto named = [&](Result<std::vector<Expanded>> rules) -> Result<std::vector<Expanded>> {
		if (!rules)
			return rules.error().context("profile " + in_quotes(profile.name));
		return rules;
	};
	auto never = named(expand_rules(profile.never, ctx.value()));
	if (!never)
		return never.error();
	return Envelope(std::move(never.value()), named(expand_rules(profile.grantable, ctx.value())),
			named(expand_rules(profile.baseline, ctx.value())));
}

Result<Decision> evaluate(const Profile& profile, const Request& request, const Context& context)
{
	if (auto valid = check_request(request); !valid)
		return valid.error();
	auto envelope = Envelope::expand(profile, context);
	if (!envelope)
		return envelope.error();
	return envelope->evaluate(request);
}

Result<Decision> Envelope::evaluate(const Request& request) const
{
	if (auto valid = check_request(request); !valid)
		return valid.error();
	if (auto denial = never_denial(never_, request))
		return *denial;
	if (!grantable_)
		return grantable_.error();

	const GrantableRule* best = nullptr;
	Duration best_ttl{0};
	for (const Expanded& g : grantable_.value()) {
		const auto& rule = static_cast<const GrantableRule&>(*g.rule);
		if (!rule.rights.covers(request.rights))
			continue;
		if (!std::all_of(request.resources.begin(), request.resources.end(),
				 [&](const Resource& r) { return rule_covers(g.resources, r); }))
			continue;
		Duration ttl = std::min(request.ttl, rule.max_ttl);
		bool better = !best || (rule.approval == Approval::automatic && best->approval == Approval::required) ||
			      (rule.approval == best->approval && ttl > best_ttl);
		if (better) {
			best = &rule;
			best_ttl = ttl;
		}
	}
	if (!best) {
		if (!baseline_)
			return baseline_.error();
		return Decision{Verdict::deny, "", Duration::zero(), false,
				outside_envelope(grantable_.value(), baseline_.value(), request)};
	}

	Decision d;
	d.rule = best->name;
	d.ttl = best_ttl;
	d.clamped = request.ttl > best->max_ttl;
	std::string what = to_string(request.rights) + " on " + join(request.resources) + " for " +
			   format_duration(d.ttl);
	if (d.clamped)
		what += " (" + format_duration(request.ttl) + " requested, clamped to the rule's max_ttl)";
	if (best->approval == Approval::required) {
		d.verdict = Verdict::pending;
		d.reason = "rule " + in_quotes(best->name) + " requires approval to give " + what;
	} else {
		d.verdict = Verdict::issue;
		d.reason = "rule " + in_quotes(best->name) + " gives " + what;
	}
	return d;
}

Result<std::vector<BaselineEntry>> expand_baseline(const Profile& profile, const Context& context)
{
	auto ctx = detail::check_context(context);
	if (!ctx)
		return ctx.error();
	auto never = expand_rules(profile.never, ctx.value());
	auto baseline = never ? expand_rules(profile.baseline, ctx.value()) : never.error();
	if (!baseline)
		return baseline.error().context("profile " + in_quotes(profile.name));
	// The parser catches conflicts it can see in the templates; these are the
	// ones only this session's values create (a workspace that is {home}).
	std::vector<BaselineEntry> out;
	for (const Expanded& b : baseline.value()) {
		for (const Resource& r : b.resources) {
			for (const Expanded& n : never.value()) {
				Rights hit = b.rule->rights & n.rule->rights;
				if (hit.empty())
					continue;
				for (const Resource& forbidden : n.resources)
					if (resources_overlap(r, forbidden))
						return Error{"profile " + in_quotes(profile.name) + ": baseline rule " +
							     in_quotes(b.rule->name) + " breaks a never rule in this session: " +
							     detail::never_conflict(hit, r, forbidden, n.rule->name)};
			}
			out.push_back(BaselineEntry{b.rule->name, r, b.rule->rights});
		}
	}
	return out;
}

Result<Derivation> narrow(std::span<const Grant> parents, const Request& child, Instant now)
{
	if (auto valid = check_request(child); !valid)
		return valid.error();
	Instant child_end = add_saturating(now, child.ttl);
	auto gives = [&](const Grant& g, Rights rights, const Resource& r) {
		return g.rights.covers(rights) && rule_covers(g.resources, r);
	};
	auto covers_all = [&](const Grant& g) {
		return std::all_of(child.resources.begin(), child.resources.end(),
				   [&](const Resource& r) { return gives(g, child.rights, r); });
	};

	const Grant* too_short = nullptr;
	const Grant* expired = nullptr;
	for (std::size_t i = 0; i < parents.size(); ++i) {
		const Grant& g = parents[i];
		if (!covers_all(g))
			continue;
		if (g.expires <= now) {
			expired = expired ? expired : &g;
			continue;
		}
		if (child_end <= g.expires)
			return Derivation{i, child_end};
		if (!too_short || g.expires > too_short->expires)
			too_short = &g;
	}
	if (too_short)
		return Error{"parent grant " + in_quotes(too_short->id) + " " + describe_remaining(too_short->expires, now) +
			     ", before the requested " + format_duration(child.ttl) +
			     " would; a derived grant must end no later than its parent"};
	if (expired)
		return Error{"parent grant " + in_quotes(expired->id) + " covers the request but has expired"};

	for (const Resource& r : child.resources) {
		for (unsigned i = 0; i < right_count; ++i) {
			Rights one{static_cast<Right>(i)};
			if (!child.rights.covers(one))
				continue;
			bool given = std::any_of(parents.begin(), parents.end(), [&](const Grant& g) {
				return g.expires > now && gives(g, one, r);
			});
			if (!given)
				return Error{"no parent grant gives " + to_string(one) + " on " + to_string(r)};
		}
	}
	return Error{"no single parent grant gives " + to_string(child.rights) + " on all of " +
		     join(child.resources) + "; a derived grant narrows exactly one parent"};
}

} // namespace grantd::policy
