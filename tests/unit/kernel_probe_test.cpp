#include "kernel_probe.h"

#include <gtest/gtest.h>

#include <cerrno>

using grantd::describe;
using grantd::judge_lsm_list;
using grantd::judge_refused_program;

TEST(JudgeLsmList, AcceptsBpfAnywhereInTheList)
{
	EXPECT_FALSE(judge_lsm_list("lockdown,capability,landlock,bpf", std::nullopt));
	EXPECT_FALSE(judge_lsm_list("bpf,capability", std::nullopt));
	EXPECT_FALSE(judge_lsm_list("capability,bpf\n", std::nullopt));
}

TEST(JudgeLsmList, NamesTheKernelParameterWhenBuiltIn)
{
	auto f = judge_lsm_list("lockdown,capability,apparmor", std::string("CONFIG_BPF_LSM=y\n"));
	ASSERT_TRUE(f);
	EXPECT_EQ(f->what, "the BPF LSM is not active (active LSMs: lockdown,capability,apparmor)");
	EXPECT_EQ(f->hint, "add bpf to the lsm= kernel parameter, keeping the others in order: "
			   "lsm=lockdown,capability,apparmor,bpf (then reboot)");
}

TEST(JudgeLsmList, NamesTheMissingConfigWhenNotBuiltIn)
{
	auto f = judge_lsm_list("capability,selinux", std::string("# CONFIG_BPF_LSM is not set\n"));
	ASSERT_TRUE(f);
	EXPECT_NE(f->hint.find("built without CONFIG_BPF_LSM"), std::string::npos) << f->hint;
}

TEST(JudgeLsmList, DoesNotMistakeSimilarNames)
{
	EXPECT_TRUE(judge_lsm_list("capability,bpfx,notbpf", std::nullopt));
}

TEST(JudgeRefusedProgram, PermissionDeniedPointsAtPrivilegeAndSandbox)
{
	auto f = judge_refused_program("load", EPERM, "[none] integrity confidentiality", "");
	EXPECT_EQ(f.what, "the kernel refused to load a BPF LSM program (Operation not permitted)");
	EXPECT_NE(f.hint.find("run as root"), std::string::npos);
	EXPECT_NE(f.hint.find("forbids BPF LSM programs"), std::string::npos);
}

TEST(JudgeRefusedProgram, ConfidentialityLockdownIsNamed)
{
	auto f = judge_refused_program("load", EPERM, "none integrity [confidentiality]", "");
	EXPECT_NE(f.hint.find("lockdown is in confidentiality mode"), std::string::npos) << f.hint;
}

TEST(JudgeRefusedProgram, UnsupportedAttachNamesConfig)
{
	auto f = judge_refused_program("attach", EOPNOTSUPP, "", "libbpf: prog 'x': failed to attach");
	EXPECT_NE(f.what.find("refused to attach"), std::string::npos);
	EXPECT_NE(f.what.find("libbpf: prog 'x': failed to attach"), std::string::npos);
	EXPECT_NE(f.hint.find("CONFIG_BPF_LSM=y"), std::string::npos);
}

TEST(Describe, OneMessageWithHint)
{
	EXPECT_EQ(describe({"no BTF", "use a kernel with BTF"}),
		  "grantd cannot enforce: no BTF\nHint: use a kernel with BTF");
}
