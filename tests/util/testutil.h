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

/*
 * Real servers for the network scanners' tests (tu_server.c): started in
 * their own session with output to a log file, stopped by pid.
 */
#include <sys/types.h>
/* tu_free_port - a loopback TCP port nobody listens on just now */
int tu_free_port(void);
/* tu_spawn - run argv (argv[0] a path) with stdout and stderr to log; its pid */
pid_t tu_spawn(char *const argv[], const char *log);
/* tu_wait_unix / tu_wait_tcp - 0 once a connect succeeds within ms, else -1 */
int tu_wait_unix(const char *path, int ms);
int tu_wait_tcp(int port, int ms);
/* tu_stop - SIGTERM, then SIGKILL after 5 s; reaps it */
void tu_stop(pid_t pid);
/* tu_tmpmsg - a deleted temp file holding data; its fd */
int tu_tmpmsg(const void *data, size_t len);

#endif
