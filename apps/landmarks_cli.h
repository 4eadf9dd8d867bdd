/* Pieces `facesynth landmarks` and `facesynth filter` share (implemented in
 * cmd_landmarks.c): face boxes from a boxes.json file or a --box flag, the
 * dlib model behind --model, and the PNG names of a directory. */
#ifndef FS_LANDMARKS_CLI_H
#define FS_LANDMARKS_CLI_H

#include <stddef.h>

#include "../engine/landmarks.h"
#include "../engine/status.h"

/* boxes.json files larger than this are refused (about 5 million boxes). */
#define LM_BOXES_MAX_BYTES (256u << 20)

/* One entry of boxes.json: {"image": NAME, "box": [left, top, right, bottom]}. */
typedef struct {
    char *image;
    fs_lm_box box;
} lm_box_entry;

typedef struct {
    lm_box_entry *e;
    size_t n;
} lm_boxes;

/* Reads and checks a boxes.json: a non-empty JSON array of objects with
 * exactly the keys "image" (a plain file name: no '/', not "." or "..") and
 * "box" (four integers, a usable box: fs_lm_box_check). Errors name the
 * file, the entry and its offset. */
fs_status lm_boxes_read(const char *path, lm_boxes *out);
void lm_boxes_free(lm_boxes *b);

/* --box: "L,T,R,B" (integers) or "ffhq" (*ffhq set: fs_lm_ffhq_box of each
 * image's size). 0, or the exit status of the usage error printed. */
int lm_parse_box_flag(const char *cmd, const char *arg, fs_lm_box *box, int *ffhq);

/* The model of --model (NULL: the Debian file), with a hint to install
 * libdlib-data when the default is missing. */
fs_status lm_model_open(const char *path, fs_dlib_model **out);

/* The PNG names of a directory (*.png in any case, not hidden), sorted with
 * strcmp; flag names the option in messages. *names is freed with
 * lm_names_free. */
fs_status lm_list_pngs(const char *dir, const char *flag, char ***names, size_t *n);
void lm_names_free(char **names, size_t n);

/* Joins dir and name into a malloc'd path (NULL when out of memory). */
char *lm_join(const char *dir, const char *name);

/* JSON output: 1 when s is valid UTF-8 (a JSON string must be); s as a
 * quoted JSON string with quotes, backslashes and control characters
 * escaped, into dst (cap >= 6 * strlen(s) + 3 holds any s). */
int lm_valid_utf8(const char *s);
void lm_json_string(char *dst, size_t cap, const char *s);

/* The help text of --box, --boxes and --model, shared by both commands. */
extern const char lm_box_help[];

#endif
