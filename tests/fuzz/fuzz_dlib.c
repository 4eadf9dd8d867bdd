/* libFuzzer harness for dlib shape predictor files
 * (weights_tools/dlib_model.c), and for the predictor run with whatever
 * model parses: any tree shape, feature index, anchor, delta, threshold or
 * leaf value that the reader accepts must predict without reading out of
 * bounds, on a small image, with a box inside it and one reaching past it.
 *
 * The seed corpus (tests/fuzz/corpus/dlib/) holds small models in dlib's
 * encoding and cut-downs of the real 68-point file, written by
 * tests/fuzz/make_dlib_corpus.py. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../engine/landmarks.h"
#include "../../weights_tools/dlib_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_dlib_model *m;
    if (fs_dlib_model_parse(data, size, "fuzz.dat", &m) != FS_OK)
        return 0;
    /* An 8 x 6 intensity ramp. */
    uint8_t px[48];
    for (int i = 0; i < 48; i++)
        px[i] = (uint8_t)(i * 5);
    fs_lm_image img = {.pixels = px, .width = 8, .height = 6, .stride = 8};
    const fs_lm_box boxes[] = {{1, 1, 6, 4}, {-3, 2, 9, 12}, {0, 0, 0, 0}};
    size_t D = 2 * (size_t)m->num_parts;
    float *shape = malloc(D * sizeof *shape);
    double *xy = malloc(D * sizeof *xy);
    int64_t *ixy = malloc(D * sizeof *ixy);
    fs_lm_workspace *ws = NULL;
    if (shape && xy && ixy && fs_lm_workspace_new(m, &ws) == FS_OK)
        for (size_t b = 0; b < sizeof boxes / sizeof *boxes; b++)
            (void)fs_lm_predict(m, &img, &boxes[b], ws, NULL, shape, xy, ixy);
    fs_lm_workspace_free(ws);
    free(shape);
    free(xy);
    free(ixy);
    fs_dlib_model_free(m);
    return 0;
}
