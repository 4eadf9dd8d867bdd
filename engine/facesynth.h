/* The library's public interface in one include: open a network (any
 * checkpoint or a .fsw), pick a backend, run the models, write images.
 *
 *   fs_weights *w;  fs_backend *b;  fs_sg2_generator *g;
 *   fs_network_open("ffhq.pkl", NULL, &w, NULL);        network.h
 *   fs_backend_open("cuda", "mixed", 0, &b);           backend.h ("cpu" works everywhere)
 *   fs_sg2_generator_init(&g, w, b);                   stylegan2.h: checks and plans
 *   fs_sg2_generate(g, &(fs_sg2_generate_args){...});  z or ws in, uint8 images out
 *   fs_sg2_pipeline_init(&p, g, b, &o);                sg2_pipeline.h: batches back to
 *                                                      back (graphs, pinned copies)
 *
 * Every call returns an fs_status; fs_error_message() says what went wrong
 * (status.h). Installed as <facesynth/engine/facesynth.h>. */
#ifndef FS_FACESYNTH_H
#define FS_FACESYNTH_H

#include "backend.h"
#include "cvaegan.h"
#include "edit.h"
#include "image_io.h"
#include "network.h"
#include "rng.h"
#include "sg2_pipeline.h"
#include "status.h"
#include "stylegan2.h"
#include "weights.h"

#endif
