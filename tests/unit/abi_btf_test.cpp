// The shared structs as the BPF object sees them (its BTF) must be byte for
// byte what the daemon sees (abi.h compiled as C++): same size, same members
// at the same offsets with the same sizes.
#include <grantd/abi.h>

#include <bpf/btf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

namespace {

struct Member {
	std::string name;
	size_t offset;
	size_t size;
};

struct Layout {
	std::string name;
	size_t size;
	std::vector<Member> members;
};

#define MEMBER(type, field) Member{#field, offsetof(type, field), sizeof(type::field)}

const std::vector<Layout>& cxx_layouts()
{
	static const std::vector<Layout> layouts = {
		{"grantd_config", sizeof(grantd_config),
		 {MEMBER(grantd_config, abi_version), MEMBER(grantd_config, root_level),
		  MEMBER(grantd_config, root_cgroup_id), MEMBER(grantd_config, flags),
		  MEMBER(grantd_config, event_rate)}},
		{"grantd_session", sizeof(grantd_session),
		 {MEMBER(grantd_session, session_id), MEMBER(grantd_session, flags)}},
		{"grantd_file_key", sizeof(grantd_file_key),
		 {MEMBER(grantd_file_key, cgroup_id), MEMBER(grantd_file_key, dev), MEMBER(grantd_file_key, pad),
		  MEMBER(grantd_file_key, ino)}},
		{"grantd_file_rule", sizeof(grantd_file_rule), {MEMBER(grantd_file_rule, deadline_ns)}},
		{"grantd_net_key", sizeof(grantd_net_key),
		 {MEMBER(grantd_net_key, prefixlen), MEMBER(grantd_net_key, session_id), MEMBER(grantd_net_key, family),
		  MEMBER(grantd_net_key, protocol), MEMBER(grantd_net_key, port), MEMBER(grantd_net_key, addr)}},
		{"grantd_net_rule", sizeof(grantd_net_rule), {MEMBER(grantd_net_rule, deadline_ns)}},
		{"grantd_rate", sizeof(grantd_rate),
		 {MEMBER(grantd_rate, window_start_ns), MEMBER(grantd_rate, events), MEMBER(grantd_rate, suppressed)}},
		{"grantd_counter", sizeof(grantd_counter),
		 {MEMBER(grantd_counter, allow), MEMBER(grantd_counter, deny), MEMBER(grantd_counter, lost_events),
		  MEMBER(grantd_counter, rate_limited)}},
		{"grantd_event", sizeof(grantd_event),
		 {MEMBER(grantd_event, time_ns), MEMBER(grantd_event, cgroup_id), MEMBER(grantd_event, ino),
		  MEMBER(grantd_event, session_id), MEMBER(grantd_event, pid), MEMBER(grantd_event, tid),
		  MEMBER(grantd_event, dev), MEMBER(grantd_event, hook), MEMBER(grantd_event, verdict),
		  MEMBER(grantd_event, reason), MEMBER(grantd_event, port), MEMBER(grantd_event, requested),
		  MEMBER(grantd_event, granted), MEMBER(grantd_event, suppressed), MEMBER(grantd_event, family),
		  MEMBER(grantd_event, protocol), MEMBER(grantd_event, pad), MEMBER(grantd_event, addr),
		  MEMBER(grantd_event, target_id), MEMBER(grantd_event, comm), MEMBER(grantd_event, name)}},
	};
	return layouts;
}

class AbiBtf : public ::testing::TestWithParam<Layout> {
protected:
	static void SetUpTestSuite()
	{
		btf_ = btf__parse(GRANTD_BPF_OBJECT, nullptr);
		ASSERT_NE(btf_, nullptr) << "cannot read BTF of " << GRANTD_BPF_OBJECT;
	}
	static void TearDownTestSuite() { btf__free(btf_); }
	static btf* btf_;
};

btf* AbiBtf::btf_ = nullptr;

TEST_P(AbiBtf, MatchesAbiHeader)
{
	const Layout& want = GetParam();
	int id = btf__find_by_name_kind(btf_, want.name.c_str(), BTF_KIND_STRUCT);
	ASSERT_GT(id, 0) << "struct " << want.name << " is not in the BTF of " << GRANTD_BPF_OBJECT;
	const btf_type* t = btf__type_by_id(btf_, id);
	EXPECT_EQ(t->size, want.size) << "sizeof(struct " << want.name << ")";
	ASSERT_EQ(btf_vlen(t), want.members.size()) << "member count of " << want.name;
	const btf_member* m = btf_members(t);
	for (size_t i = 0; i < want.members.size(); i++, m++) {
		SCOPED_TRACE(want.name + "." + want.members[i].name);
		EXPECT_EQ(btf__name_by_offset(btf_, m->name_off), want.members[i].name);
		EXPECT_EQ(btf_member_bit_offset(t, static_cast<__u32>(i)), want.members[i].offset * 8);
		EXPECT_EQ(btf__resolve_size(btf_, m->type), static_cast<__s64>(want.members[i].size));
	}
}

INSTANTIATE_TEST_SUITE_P(SharedStructs, AbiBtf, ::testing::ValuesIn(cxx_layouts()),
			 [](const auto& param_info) { return param_info.param.name; });

} // namespace
