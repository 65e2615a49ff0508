/*
 * qq-null - the exec ceiling: a QMAILQUEUE program that does nothing.
 *
 * SYNOPSIS
 *	QMAILQUEUE=qq-null   (run by qmail-smtpd, or by qqsim -p qq-null)
 *
 * DESCRIPTION
 *	Reads fd 0 (the message) to EOF, then fd 1 (the envelope) to EOF, in
 *	the order qmail-smtpd writes them, and exits 0.  What a message costs
 *	through it is what qmail-smtpd pays per message whatever its queue
 *	program does: two pipes, fork, exec, copying the bytes, wait.  Built
 *	statically like sluice-queue, so that the comparison is fair.  It is
 *	the ceiling of bench_queue.sh, never something to install.
 *
 * DIAGNOSTICS
 *	Exit 54 (qmail-queue's "unable to read the message or envelope") on a
 *	read error; 0 otherwise.
 */
#include <errno.h>
#include <unistd.h>

int main(void)
{
	static char buf[65536];
	int fd;

	for (fd = 0; fd < 2; fd++)
		for (;;) {
			ssize_t r = read(fd, buf, sizeof buf);

			if (r > 0)
				continue;
			if (r == 0)
				break;
			if (errno != EINTR)
				return 54;
		}
	return 0;
}
