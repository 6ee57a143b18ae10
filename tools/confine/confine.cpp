#include "confine.h"

#include <linux/sched.h>
#include <linux/securebits.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>
#include <memory>

namespace grantd::confine {
namespace {

struct CapDeleter {
	void operator()(_cap_struct* caps) const { cap_free(caps); }
};
using UniqueCaps = std::unique_ptr<_cap_struct, CapDeleter>;

struct SeccompDeleter {
	void operator()(void* ctx) const { seccomp_release(ctx); }
};
using UniqueSeccomp = std::unique_ptr<void, SeccompDeleter>;

// CLONE_NEWTIME shares its bit with the exit signal in clone(2)'s flags, so
// only unshare(2) is filtered on it.
constexpr unsigned long kCloneNamespaces = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
					   CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
constexpr unsigned long kUnshareNamespaces = kCloneNamespaces | CLONE_NEWTIME;

bool effective(cap_value_t cap)
{
	UniqueCaps caps(cap_get_proc());
	cap_flag_value_t value = CAP_CLEAR;
	return caps && cap_get_flag(caps.get(), cap, CAP_EFFECTIVE, &value) == 0 && value == CAP_SET;
}

Result<void> deny_with_flags(scmp_filter_ctx ctx, const char* name, unsigned long flags)
{
	int nr = seccomp_syscall_resolve_name(name);
	for (unsigned bit = 0; bit < 64; bit++) {
		unsigned long flag = 1ul << bit;
		if (!(flags & flag))
			continue;
		int err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
					   SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
		if (err < 0)
			return Error::from_errno(std::string("seccomp: add rule for ") + name, -err);
	}
	return {};
}

} // namespace

const std::vector<std::string>& denied_syscalls()
{
	static const std::vector<std::string> names = {
		// mounts: the agent's view of the file system is the one grants name
		"mount", "umount", "umount2", "move_mount", "fsopen", "fsmount", "fsconfig", "fspick",
		"open_tree", "mount_setattr", "pivot_root",
		// the kernel's own machinery
		"bpf", "perf_event_open", "kexec_load", "kexec_file_load", "init_module", "finit_module",
		"delete_module",
		// other processes' memory
		"ptrace", "process_vm_readv", "process_vm_writev",
		// kernel keyrings outlive the session
		"keyctl", "add_key", "request_key",
		// namespaces (clone and unshare: by flag, below)
		"setns",
		// a classic helper of kernel exploits
		"userfaultfd",
	};
	return names;
}

unsigned long namespace_flags() { return kUnshareNamespaces; }

Result<void> set_no_new_privs()
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return Error::from_errno("prctl(PR_SET_NO_NEW_PRIVS)");
	return {};
}

Result<bool> drop_capabilities()
{
	bool may_drop_bounding = effective(CAP_SETPCAP);
	if (may_drop_bounding) {
		// uid 0 gains nothing by exec or by setuid(0) ever again, locked.
		unsigned bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
				SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
				SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
		if (cap_set_secbits(bits) != 0)
			return Error::from_errno("cap_set_secbits");
		for (cap_value_t cap = 0; cap < static_cast<cap_value_t>(cap_max_bits()); cap++)
			if (cap_drop_bound(cap) != 0 && errno != EINVAL)
				return Error::from_errno("drop capability " + std::to_string(cap) + " from the bounding set");
	}
	if (cap_reset_ambient() != 0 && errno != EINVAL)
		return Error::from_errno("clear the ambient capabilities");
	UniqueCaps none(cap_init());
	if (!none)
		return Error::from_errno("cap_init");
	if (cap_set_proc(none.get()) != 0)
		return Error::from_errno("drop every capability");
	return may_drop_bounding;
}

Result<std::vector<std::string>> install_seccomp_baseline()
{
	// EPERM, not a kill: the agent sees a clear "Operation not permitted".
	UniqueSeccomp ctx(seccomp_init(SCMP_ACT_ALLOW));
	if (!ctx)
		return Error{"seccomp_init failed"};
	// The 32-bit and x32 entry points reach the same kernel code.
	if (seccomp_arch_native() == SCMP_ARCH_X86_64)
		for (std::uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32})
			if (int err = seccomp_arch_add(ctx.get(), arch); err < 0 && err != -EEXIST)
				return Error::from_errno("seccomp: add architecture", -err);

	std::vector<std::string> unknown;
	for (const std::string& name : denied_syscalls()) {
		int nr = seccomp_syscall_resolve_name(name.c_str());
		if (nr == __NR_SCMP_ERROR) {
			unknown.push_back(name);
			continue;
		}
		if (int err = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0); err < 0)
			return Error::from_errno("seccomp: add rule for " + name, -err);
	}
	if (auto r = deny_with_flags(ctx.get(), "clone", kCloneNamespaces); !r)
		return r.error();
	if (auto r = deny_with_flags(ctx.get(), "unshare", kUnshareNamespaces); !r)
		return r.error();
	// clone3 passes its flags in memory a filter cannot read: ENOSYS makes
	// libc fall back to clone(2), whose flags the rules above see.
	if (int err = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), seccomp_syscall_resolve_name("clone3"), 0);
	    err < 0)
		return Error::from_errno("seccomp: add rule for clone3", -err);
	if (int err = seccomp_load(ctx.get()); err < 0)
		return Error::from_errno("seccomp: load the filter", -err);
	return unknown;
}

int exit_status(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return 255;
}

Result<Report> confine()
{
	Report report;
	if (auto r = set_no_new_privs(); !r)
		return r.error();
	auto dropped = drop_capabilities();
	if (!dropped)
		return dropped.error();
	report.bounding_set_dropped = dropped.value();
	auto unknown = install_seccomp_baseline();
	if (!unknown)
		return unknown.error();
	report.unknown_syscalls = std::move(unknown.value());
	return report;
}

} // namespace grantd::confine
