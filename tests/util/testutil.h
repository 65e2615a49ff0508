/*
 * testutil.h - helpers shared by the cmocka programs: temporary trees,
 * whole-file reads and writes.  Every helper fails the running test
 * (cmocka's fail_msg) instead of returning an error.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* tu_tmpdir - make a fresh directory under $TMPDIR (or /tmp); caller frees */
char *tu_tmpdir(const char *tag);
/* tu_rmtree - remove a tree made by the test */
void tu_rmtree(const char *path);
/* tu_path - "dir/rel" in a static rotating buffer (8 slots) */
const char *tu_path(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* tu_read - whole file into a NUL-terminated heap buffer; NULL if missing */
char *tu_read(const char *path, size_t *len);
void tu_write(const char *path, const void *data, size_t len);
/* tu_count - entries (not . or ..) in a directory; -1 if it does not exist */
long tu_count(const char *dir);
int tu_exists(const char *path);

/*
 * Queue trees (tu_queue.c), made with plain mkdir/mkfifo so that the queue
 * core's tests do not depend on queue_layout_make():
 * pid/ mess/0..split-1 intd/ todo/ lock/{trigger FIFO,sendmutex}
 * info/ local/ remote/ (each with 0..split-1) bounce/.
 */
/* tu_queue_tree - make the tree at path (its parent must exist) */
void tu_queue_tree(const char *path, unsigned split);
/* tu_queue_files - regular files under pid/, mess/<all>, intd/, todo/ */
long tu_queue_files(const char *queue);
/* tu_queue_mess - files under mess/<all> */
long tu_queue_mess(const char *queue);

#endif
