// Decides whether this kernel can enforce grants, before grantd does anything
// else, and says exactly what is missing and how to fix it when it cannot.
#pragma once

#include <grantd/result.h>

#include <optional>
#include <string>
#include <vector>

namespace grantd {

struct ProbeOptions {
	std::string securityfs = "/sys/kernel/security";
	std::string btf = "/sys/kernel/btf/vmlinux";
	std::string bpffs = "/sys/fs/bpf";
};

// One finding: what is wrong, and a hint that says how to fix it.
struct ProbeFailure {
	std::string what;
	std::string hint;
};

// The full message grantd prints for a failure.
std::string describe(const ProbeFailure& failure);

// Judges the active LSM list (contents of <securityfs>/lsm). kernel_config is
// the text of /boot/config-$(uname -r) when readable, to tell "not enabled at
// boot" from "not built in".
std::optional<ProbeFailure> judge_lsm_list(const std::string& lsm_list,
					   const std::optional<std::string>& kernel_config);

// Judges a refused load or attach of the probe program.
ProbeFailure judge_refused_program(const std::string& stage, int err, const std::string& lockdown,
				   const std::string& libbpf_log);

// Runs every check in order, mounting securityfs and bpffs if they are absent;
// the last check loads and attaches a real LSM program and detaches it again.
// Success lines (one per check) go to `passed` when not null.
std::optional<ProbeFailure> probe_kernel(const ProbeOptions& options,
					 std::vector<std::string>* passed = nullptr);

} // namespace grantd
