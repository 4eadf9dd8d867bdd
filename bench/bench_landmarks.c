/* Our shape predictor (engine/landmarks.h) on a list of faces, for
 * bench/run_landmarks_bench.sh, which runs bench_landmarks_dlib.cpp (dlib's
 * own) on the same list in the same run.
 *
 * Usage: bench_landmarks MODEL CASES THREADS ROUNDS POINTS_OUT
 *   CASES: one face per line, "PNG LEFT TOP RIGHT BOTTOM".
 * Times the model load, decodes every PNG once into an intensity plane,
 * writes each face's integer parts to POINTS_OUT (one line per face, the
 * format of the dlib program, so the two files must be identical), then
 * times ROUNDS rounds over all faces with 1 thread and with THREADS threads
 * (faces claimed one at a time from an atomic counter, each thread with its
 * own workspace), and prints
 *   load_s S
 *   threads T faces F rounds R median_faces_per_s X min Y max Z */
#include <pthread.h>
#include <stdatomic.h>

#include "../engine/image_io.h"
#include "../engine/landmarks.h"
#include "bench_util.h"

typedef struct {
    char path[512];
    fs_lm_image img;
} image;

typedef struct {
    int image;
    fs_lm_box box;
} face;

typedef struct {
    const fs_dlib_model *m;
    const image *images;
    const face *faces;
    size_t n;
    atomic_size_t next;
} work;

static void *worker(void *arg)
{
    work *w = arg;
    fs_lm_workspace *ws;
    float shape[2 * FS_DLIB_MAX_PARTS];
    if (fs_lm_workspace_new(w->m, &ws) != FS_OK)
        return NULL;
    for (size_t i; (i = atomic_fetch_add(&w->next, 1)) < w->n;)
        if (fs_lm_predict(w->m, &w->images[w->faces[i].image].img, &w->faces[i].box, ws, NULL,
                          shape, NULL, NULL) != FS_OK) {
            fprintf(stderr, "%s\n", fs_error_message());
            exit(1);
        }
    fs_lm_workspace_free(ws);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL CASES THREADS ROUNDS POINTS_OUT\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[3]), rounds = atoi(argv[4]);
    double t0 = now_s();
    fs_dlib_model *m;
    if (fs_dlib_model_load(argv[1], &m) != FS_OK) {
        fprintf(stderr, "%s\n", fs_error_message());
        return 1;
    }
    printf("load_s %.4f\n", now_s() - t0);

    image *images = NULL;
    face *faces = NULL;
    size_t n_images = 0, n = 0, cap = 0;
    FILE *in = fopen(argv[2], "r");
    if (!in)
        return 1;
    char path[512];
    long long l, t, r, b;
    while (fscanf(in, "%511s %lld %lld %lld %lld", path, &l, &t, &r, &b) == 5) {
        size_t k = 0;
        while (k < n_images && strcmp(images[k].path, path))
            k++;
        if (k == n_images) {
            images = realloc(images, (n_images + 1) * sizeof *images);
            uint8_t *rgb;
            int w, h;
            if (!images || fs_png_read_rgb(path, &rgb, &w, &h) != FS_OK) {
                fprintf(stderr, "%s: %s\n", path, fs_error_message());
                return 1;
            }
            uint8_t *gray = malloc((size_t)w * h);
            if (!gray)
                return 1;
            fs_lm_intensity_rgb(rgb, (size_t)w * h, gray);
            free(rgb);
            snprintf(images[k].path, sizeof images[k].path, "%s", path);
            images[k].img = (fs_lm_image){.pixels = gray, .width = w, .height = h,
                                          .stride = (size_t)w};
            n_images++;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            if (!(faces = realloc(faces, cap * sizeof *faces)))
                return 1;
        }
        faces[n++] = (face){.image = (int)k, .box = {.left = l, .top = t, .right = r,
                                                     .bottom = b}};
    }
    fclose(in);

    FILE *pts = fopen(argv[5], "w");
    if (!pts)
        return 1;
    int D = 2 * m->num_parts;
    float *shape = malloc((size_t)D * sizeof *shape);
    int64_t *ixy = malloc((size_t)D * sizeof *ixy);
    if (!shape || !ixy)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (fs_lm_predict(m, &images[faces[i].image].img, &faces[i].box, NULL, NULL, shape, NULL,
                          ixy) != FS_OK) {
            fprintf(stderr, "%s\n", fs_error_message());
            return 1;
        }
        for (int j = 0; j < m->num_parts; j++)
            fprintf(pts, "%s%lld %lld", j ? " " : "", (long long)ixy[2 * j],
                    (long long)ixy[2 * j + 1]);
        fprintf(pts, "\n");
    }
    fclose(pts);

    const int counts[2] = {1, threads};
    double *rate = malloc((size_t)(rounds > 0 ? rounds : 1) * sizeof *rate);
    pthread_t *tid = malloc((size_t)(threads > 0 ? threads : 1) * sizeof *tid);
    if (!rate || !tid)
        return 1;
    for (int k = 0; k < (threads > 1 ? 2 : 1); k++) {
        int T = counts[k];
        for (int round = 0; round < rounds; round++) {
            work w = {.m = m, .images = images, .faces = faces, .n = n};
            atomic_init(&w.next, 0);
            double start = now_s();
            for (int i = 1; i < T; i++)
                pthread_create(&tid[i], NULL, worker, &w);
            worker(&w);
            for (int i = 1; i < T; i++)
                pthread_join(tid[i], NULL);
            rate[round] = (double)n / (now_s() - start);
        }
        stats s = stats_of(rate, rounds);
        printf("threads %d faces %zu rounds %d median_faces_per_s %.1f min %.1f max %.1f\n", T, n,
               rounds, s.median, s.min, s.max);
    }
    for (size_t k = 0; k < n_images; k++)
        free((void *)images[k].img.pixels);
    free(images), free(faces), free(shape), free(ixy), free(rate), free(tid);
    fs_dlib_model_free(m);
    return 0;
}
