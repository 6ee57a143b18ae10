// What grant-run does to an agent between fork and exec, behind the LSM:
// no_new_privs, no capabilities (effective, permitted, inheritable, ambient,
// and the bounding set when we may drop it), and a seccomp filter that
// removes what no agent needs. A library so that a test can confine a forked
// child and look at the result.
#pragma once

#include <grantd/result.h>

#include <string>
#include <vector>

namespace grantd::confine {

// What confine() did beyond the guaranteed minimum, for the caller to report.
struct Report {
	// False when the caller lacked CAP_SETPCAP: the bounding set is left as
	// it was. no_new_privs still keeps set-uid and file capabilities from
	// raising anything, so nothing can be gained from it.
	bool bounding_set_dropped = false;
	// Syscalls this libseccomp or kernel does not know (left out of the filter).
	std::vector<std::string> unknown_syscalls;
};

// The system calls the filter answers with EPERM, always.
const std::vector<std::string>& denied_syscalls();

// The namespace flags that make clone(2) and unshare(2) fail with EPERM.
unsigned long namespace_flags();

// Sets no_new_privs, drops every capability, installs the seccomp baseline.
// Irreversible; meant for the child between fork and exec. Any failure
// leaves the process unfit to run the agent: the caller must not exec then.
Result<Report> confine();

// A wait(2) status as a shell reports it: the exit status, or 128+N for a
// process killed by signal N (137 for SIGKILL).
int exit_status(int wait_status);

// The steps, separately (confine() runs them in this order).
Result<void> set_no_new_privs();
Result<bool> drop_capabilities(); // true if the bounding set was dropped
Result<std::vector<std::string>> install_seccomp_baseline();

} // namespace grantd::confine
