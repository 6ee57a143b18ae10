/*
 * The execve loop's program (tests/bench/overhead.cpp, exec_loop): static, so
 * that the loop measures exec itself and not ld.so. Run as
 *
 *   exec-target LEFT N T0
 *
 * it executes itself again with LEFT - 1 until LEFT is 0: a chain of execve
 * calls in one process, with no fork, wait or exit between them, and no
 * second process for the scheduler to interleave. The clock starts when LEFT
 * reaches N (the execs before are the warm-up) and stops at 0; the last
 * program writes the ns per execve, as a double, to fd 3, or -1e9 - errno if
 * an execve failed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int result(double ns)
{
	return write(3, &ns, sizeof ns) == (ssize_t)sizeof ns ? 0 : 1;
}

int main(int argc, char **argv)
{
	char left[24], t0_text[24];
	char *args[5] = { argv[0], left, argv[2], t0_text, NULL };
	char *envp[] = { NULL };
	long k, n;
	uint64_t t0;

	if (argc != 4)
		return 2;
	k = strtol(argv[1], NULL, 10);
	n = strtol(argv[2], NULL, 10);
	t0 = strtoull(argv[3], NULL, 10);
	if (k == n)
		t0 = now_ns();
	if (k <= 0)
		return result(n > 0 ? (double)(now_ns() - t0) / (double)n : -1e9 - EINVAL);
	snprintf(left, sizeof left, "%ld", k - 1);
	snprintf(t0_text, sizeof t0_text, "%llu", (unsigned long long)t0);
	execve(argv[0], args, envp);
	result(-1e9 - errno);
	return 1;
}
