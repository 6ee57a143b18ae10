#include "kernel_probe.h"

#include "cgroup.h"
#include "libbpf_log.h"
#include "probe.skel.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

namespace grantd {
namespace {

// The kernel's internal ENOTSUPP, which BPF attach paths leak to userspace.
constexpr int kENOTSUPP = 524;

std::optional<std::string> read_file(const std::string& path)
{
	std::ifstream in(path);
	if (!in)
		return std::nullopt;
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

std::string trim(std::string s)
{
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s;
}

std::optional<ProbeFailure> check_securityfs(const ProbeOptions& o, std::string* lsm_list)
{
	std::string lsm_file = o.securityfs + "/lsm";
	auto text = read_file(lsm_file);
	if (!text) {
		if (::mount("securityfs", o.securityfs.c_str(), "securityfs", 0, nullptr) != 0 && errno != EBUSY)
			return ProbeFailure{"securityfs is not mounted at " + o.securityfs +
						    " and mounting it failed: " + std::strerror(errno),
					    "mount it (mount -t securityfs securityfs " + o.securityfs +
						    ") or run grantd with CAP_SYS_ADMIN"};
		text = read_file(lsm_file);
	}
	if (!text)
		return ProbeFailure{"cannot read " + lsm_file + ": " + std::strerror(errno),
				    "the kernel must be built with CONFIG_SECURITY=y and securityfs mounted"};
	*lsm_list = trim(*text);
	return std::nullopt;
}

std::optional<ProbeFailure> check_btf(const ProbeOptions& o)
{
	if (::access(o.btf.c_str(), R_OK) == 0)
		return std::nullopt;
	return ProbeFailure{"the kernel has no BTF type information (" + o.btf + ": " +
				    std::strerror(errno) + ")",
			    "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's kernels are)"};
}

std::optional<ProbeFailure> check_cgroup2()
{
	auto mount = find_cgroup2_mount();
	if (mount)
		return std::nullopt;
	return ProbeFailure{mount.error().message,
			    "mount the unified hierarchy (mount -t cgroup2 none /sys/fs/cgroup) or boot "
			    "with systemd.unified_cgroup_hierarchy=1"};
}

std::optional<ProbeFailure> check_bpffs(const ProbeOptions& o)
{
	struct statfs st {};
	if (::statfs(o.bpffs.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return std::nullopt;
	if (::mount("bpf", o.bpffs.c_str(), "bpf", 0, nullptr) == 0)
		return std::nullopt;
	return ProbeFailure{"no BPF filesystem at " + o.bpffs + " and mounting one failed: " +
				    std::strerror(errno),
			    "mount it (mount -t bpf bpf " + o.bpffs + "); grantd pins its programs there"};
}

struct ProbeSkelDeleter {
	void operator()(probe_bpf* skel) const { probe_bpf__destroy(skel); }
};

std::optional<ProbeFailure> check_program(const std::string& lockdown)
{
	LibbpfLogCapture log;
	std::unique_ptr<probe_bpf, ProbeSkelDeleter> skel(probe_bpf__open());
	if (!skel)
		return judge_refused_program("open", errno, lockdown, log.tail());
	if (int err = probe_bpf__load(skel.get()); err)
		return judge_refused_program("load", -err, lockdown, log.tail());
	if (int err = probe_bpf__attach(skel.get()); err)
		return judge_refused_program("attach", -err, lockdown, log.tail());
	return std::nullopt; // destroying the skeleton detaches the probe
}

} // namespace

std::string describe(const ProbeFailure& failure)
{
	return "grantd cannot enforce: " + failure.what + "\nHint: " + failure.hint;
}

std::optional<ProbeFailure> judge_lsm_list(const std::string& lsm_list,
					   const std::optional<std::string>& kernel_config)
{
	std::istringstream names(lsm_list);
	std::string name;
	while (std::getline(names, name, ','))
		if (trim(name) == "bpf")
			return std::nullopt;

	ProbeFailure failure{"the BPF LSM is not active (active LSMs: " + lsm_list + ")", ""};
	bool built_in = !kernel_config || kernel_config->find("CONFIG_BPF_LSM=y") != std::string::npos;
	if (built_in)
		failure.hint = "add bpf to the lsm= kernel parameter, keeping the others in order: lsm=" +
			       lsm_list + ",bpf (then reboot)";
	else
		failure.hint = "this kernel is built without CONFIG_BPF_LSM; boot a kernel with "
			       "CONFIG_BPF_LSM=y (Debian 12's 6.1 and 6.12 kernels have it)";
	return failure;
}

ProbeFailure judge_refused_program(const std::string& stage, int err, const std::string& lockdown,
				   const std::string& libbpf_log)
{
	ProbeFailure failure;
	failure.what = "the kernel refused to " + stage + " a BPF LSM program (" + std::strerror(err) +
		       ")";
	if (!libbpf_log.empty())
		failure.what += "\n" + trim(libbpf_log);
	if (err == EPERM || err == EACCES) {
		failure.hint = "grantd needs CAP_BPF, CAP_SYS_ADMIN and CAP_PERFMON (run as root)";
		if (lockdown.find("[confidentiality]") != std::string::npos)
			failure.hint += "; kernel lockdown is in confidentiality mode, which forbids the "
					"kernel reads grantd's programs need (lockdown=integrity or none)";
		else
			failure.hint += "; if grantd already runs as root, this kernel or its sandbox "
					"(a container, gVisor, a hypervisor policy) forbids BPF LSM programs: "
					"run grantd on a kernel that allows them";
	} else if (err == EINVAL || err == kENOTSUPP || err == EOPNOTSUPP || err == ESRCH) {
		failure.hint = "this kernel does not support attaching BPF programs to LSM hooks "
			       "(needs CONFIG_BPF_LSM=y, CONFIG_BPF_JIT=y, BTF and 'bpf' in lsm=)";
	} else {
		failure.hint = "see the libbpf messages above; the kernel log (dmesg) may say more";
	}
	return failure;
}

std::optional<ProbeFailure> probe_kernel(const ProbeOptions& options, std::vector<std::string>* passed)
{
	auto note = [&](std::string line) {
		if (passed)
			passed->push_back(std::move(line));
	};
	if (::geteuid() != 0)
		return ProbeFailure{"grantd is not running as root",
				    "start it as root (it is normally started by grantd.service)"};

	std::string lsm_list;
	if (auto f = check_securityfs(options, &lsm_list))
		return f;
	struct utsname uts {};
	::uname(&uts);
	if (auto f = judge_lsm_list(lsm_list, read_file(std::string("/boot/config-") + uts.release)))
		return f;
	note("BPF LSM active (lsm=" + lsm_list + ")");
	if (auto f = check_btf(options))
		return f;
	note("kernel BTF present (" + options.btf + ")");
	if (auto f = check_cgroup2())
		return f;
	note("cgroup v2 mounted (" + find_cgroup2_mount().value() + ")");
	if (auto f = check_bpffs(options))
		return f;
	note("BPF filesystem mounted (" + options.bpffs + ")");
	if (auto f = check_program(trim(read_file(options.securityfs + "/lockdown").value_or(""))))
		return f;
	note("BPF LSM program loaded and attached (kernel " + std::string(uts.release) + ")");
	return std::nullopt;
}

} // namespace grantd
