/* A minimal fork-join thread pool for the CPU backend: run fn over task
 * indices [0, n) on all workers and wait. Workers are created once. */
#ifndef FS_CPU_THREADS_H
#define FS_CPU_THREADS_H

#include "../status.h"

typedef struct fs_pool fs_pool;
typedef void (*fs_task_fn)(void *ctx, int task, int worker);

fs_status fs_pool_init(fs_pool **out, int threads);
void fs_pool_free(fs_pool *p);
int fs_pool_size(const fs_pool *p);
/* Runs fn(ctx, t, worker) for t in [0, n), tasks handed out dynamically. */
void fs_pool_run(fs_pool *p, int n, fs_task_fn fn, void *ctx);

#endif
