// Every profile in policy/profiles/ passes the check a sysadmin would run.
#include <grantd/policy.h>

#include <gtest/gtest.h>

#include <filesystem>

using namespace grantd::policy;

namespace {

std::vector<std::string> shipped()
{
	std::vector<std::string> out;
	for (const auto& entry : std::filesystem::directory_iterator(GRANTD_PROFILES_DIR))
		if (entry.path().extension() == ".toml")
			out.push_back(entry.path().string());
	std::sort(out.begin(), out.end());
	return out;
}

} // namespace

TEST(ShippedProfiles, AreTheThreeExamples)
{
	std::vector<std::string> names;
	for (const std::string& path : shipped())
		names.push_back(std::filesystem::path(path).stem().string());
	EXPECT_EQ(names, (std::vector<std::string>{"business-agent", "coding-agent", "context-agent"}));
}

TEST(ShippedProfiles, PassTheCheck)
{
	for (const std::string& path : shipped()) {
		std::string all;
		for (const grantd::Error& e : check_file(path))
			all += e.message + "\n";
		EXPECT_EQ(all, "") << path;
	}
}

TEST(ShippedProfiles, ExpandForATypicalSession)
{
	for (const std::string& path : shipped()) {
		auto profile = load_profile(path);
		ASSERT_TRUE(profile) << profile.error().message;
		auto baseline = expand_baseline(profile.value(), Context{"/home/u/work", "/home/u", "u"});
		ASSERT_TRUE(baseline) << path << ": " << baseline.error().message;
		EXPECT_FALSE(baseline.value().empty()) << path;
	}
}

TEST(ShippedProfiles, ContextAgentReadsOneServiceButNotThePayloads)
{
	auto profile = load_profile(std::string(GRANTD_PROFILES_DIR) + "/context-agent.toml").value();
	const Context c{"/home/u/work", "/home/u", "u"};
	auto ask = [&](std::string_view path) {
		return evaluate(profile, Request{{Right::read}, {parse_resource(path).value()}, std::chrono::hours(2), "incident 42"}, c)
			.value();
	};
	Decision d = ask("/var/log/services/payments/app");
	EXPECT_EQ(d.verdict, Verdict::issue);
	EXPECT_EQ(d.ttl, std::chrono::hours(1));
	d = ask("/var/log/services/payments");
	EXPECT_EQ(d.reason, "read on /var/log/services/payments would also cover /var/log/services/payments/payloads, "
			    "which never rule \"customer-payloads\" forbids");
	EXPECT_EQ(ask("/srv/tickets/4711").verdict, Verdict::pending);
	auto write = evaluate(profile, Request{{Right::write}, {parse_resource("/srv/docs/runbooks/x").value()},
					       std::chrono::minutes(5), "edit"},
			      c);
	EXPECT_EQ(write.value().reason, "outside the envelope: no grantable rule gives write on /srv/docs/runbooks/x");
}

TEST(ShippedProfiles, BusinessAgentRunsOneToolAndReachesOneService)
{
	auto profile = load_profile(std::string(GRANTD_PROFILES_DIR) + "/business-agent.toml").value();
	const Context c{"/var/lib/agents/inv-1", "/var/lib/agents", "invoice"};
	auto ask = [&](Rights rights, std::string_view resource) {
		return evaluate(profile, Request{rights, {parse_resource(resource).value()}, std::chrono::minutes(5), "invoice 123"}, c)
			.value();
	};
	EXPECT_EQ(ask({Right::exec, Right::map_exec}, "/opt/acme/bin/invoice-validate").rule, "invoice-validation");
	EXPECT_EQ(ask({Right::connect}, "tcp:10.20.0.15:8443").verdict, Verdict::issue);
	Decision d = ask({Right::connect}, "tcp:10.20.0.40:443");
	EXPECT_EQ(d.rule, "payments");
	EXPECT_EQ(d.reason, "never rule \"payments\" forbids connect on tcp:10.20.0.40:443");
	EXPECT_EQ(ask({Right::exec}, "/opt/acme/bin/payment-execute").rule, "payments");
	EXPECT_EQ(ask({Right::connect}, "tcp:10.20.0.99:8443").verdict, Verdict::deny);
	EXPECT_EQ(profile.session.max_delegation_depth, 0u);
}
