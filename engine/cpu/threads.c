/* Fork-join pool: the caller thread is worker 0 and works too; tasks are
 * claimed with an atomic counter so uneven tiles balance themselves. */
#include "threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct fs_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned generation;
    int running;   /* workers still busy in this generation */
    int quit;
    fs_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
};

typedef struct {
    fs_pool *p;
    int id;
} worker_arg;

static void drain(fs_pool *p, int worker)
{
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks)
            break;
        p->fn(p->ctx, t, worker);
    }
}

static void *worker_main(void *arg)
{
    worker_arg *a = arg;
    fs_pool *p = a->p;
    int id = a->id;
    free(a);
    unsigned seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        drain(p, id);
        pthread_mutex_lock(&p->mu);
        if (--p->running == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

fs_status fs_pool_init(fs_pool **out, int threads)
{
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    fs_pool *p = calloc(1, sizeof *p);
    if (!p)
        return fs_error(FS_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->threads = calloc((size_t)threads - 1, sizeof *p->threads);
        if (!p->threads) {
            fs_pool_free(p);
            return fs_error(FS_ERR_NOMEM, "thread pool: out of memory");
        }
    }
    for (int i = 1; i < threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) {
            a->p = p;
            a->id = i;
        }
        if (!a || pthread_create(&p->threads[i - 1], NULL, worker_main, a) != 0) {
            free(a);
            p->n_threads = i; /* only the started ones are joined */
            fs_pool_free(p);
            return fs_error(FS_ERR_NOMEM, "thread pool: cannot start thread %d", i);
        }
    }
    *out = p;
    return FS_OK;
}

void fs_pool_free(fs_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int fs_pool_size(const fs_pool *p) { return p->n_threads; }

void fs_pool_run(fs_pool *p, int n, fs_task_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (p->n_threads == 1 || n == 1) {
        for (int t = 0; t < n; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n;
    atomic_store(&p->next, 0);
    p->running = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->running > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
