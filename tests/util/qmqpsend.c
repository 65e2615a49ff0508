/*
 * qmqpsend - the tests' driver of router/qmqp_client.c: send one file to
 * QMQP servers as sluiced's remote queues will, print the outcome.
 *
 *	qmqpsend [-c CONNECT_MS] [-i IO_MS] [-d DEADLINE_MS] [-o OFFSET]
 *	         SERVER[,SERVER...] FILE SENDER [RCPT...]
 *
 *	Sends bytes [OFFSET, EOF) of FILE with qmqp_send_list() (the servers
 *	in turn until one connects).  Prints "<status> <text>" (status as
 *	qmqp_status_name() names it) and exits as qmail-qmqpc would: 0 K,
 *	71 Z, 31 D, 72 timed out, 73 refused, 74 broken conversation, 54
 *	unreadable file, 56 no socket, 100 usage.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router/qmqp.h"

static int usage(void)
{
	fprintf(stderr, "usage: qmqpsend [-c MS] [-i MS] [-d MS] [-o OFFSET] SERVER[,SERVER...] "
		"FILE SENDER [RCPT...]\n");
	return 100;
}

int main(int argc, char **argv)
{
	struct qmqp_limits lim = { 0 };
	struct qmqp_addr addrs[16];
	struct qmqp_result r;
	struct qmqp_msg m = { 0 };
	char err[300], *list, *tok, *save = NULL;
	size_t n = 0;
	int c;

	while ((c = getopt(argc, argv, "c:i:d:o:")) != -1) {
		switch (c) {
		case 'c': lim.connect_ms = (unsigned)atoi(optarg); break;
		case 'i': lim.io_ms = (unsigned)atoi(optarg); break;
		case 'd': lim.deadline_ms = qmqp_now_ms() + atoll(optarg); break;
		case 'o': m.off = (off_t)atoll(optarg); break;
		default: return usage();
		}
	}
	if (argc - optind < 3)
		return usage();
	list = argv[optind];
	for (tok = strtok_r(list, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
		if (qmqp_addr_parse(tok, &addrs[n++], err, sizeof err) < 0) {
			fprintf(stderr, "qmqpsend: %s\n", err);
			return 100;
		}
	if ((m.fd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC)) < 0) {
		perror(argv[optind + 1]);
		return 54;
	}
	m.sender = argv[optind + 2];
	m.rcpt = (const char *const *)argv + optind + 3;
	m.nrcpt = (size_t)(argc - optind - 3);
	qmqp_send_list(addrs, n, &m, &lim, &r);
	printf("%s %s\n", qmqp_status_name(r.status), r.text);
	switch (r.status) {
	case QMQP_OK: return 0;
	case QMQP_TEMP: return 71;
	case QMQP_PERM: return 31;
	case QMQP_ETIMEOUT: return 72;
	case QMQP_EREFUSED: return 73;
	case QMQP_ECONV: return 74;
	case QMQP_EREAD: return 54;
	case QMQP_ESYS: break;
	}
	return 56;
}
