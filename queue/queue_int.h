/*
 * queue_int.h - private helpers shared by the queue library's files.
 */
#ifndef SLUICE_QUEUE_INT_H
#define SLUICE_QUEUE_INT_H

#include "queue.h"

#define QUEUE_MARK_RECV ".r"	/* marker while the message is written */
#define QUEUE_MARK_COMMIT ".c"	/* marker once intd/ exists */

/* queue_fmt_id - decimal id into buf (>= 24 bytes); returns buf */
char *queue_fmt_id(char *buf, unsigned long id);
/* queue_writeall - write through queue_sys, retrying EINTR and short writes */
int queue_writeall(int fd, const void *buf, size_t len);
/* queue_mess_fd - the mess/<id % split> directory fd */
int queue_mess_fd(const struct queue *, unsigned long id);

#endif
