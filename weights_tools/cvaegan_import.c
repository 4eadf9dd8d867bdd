/* CVAE-GAN import: hyper-parameters from shapes, exact-shape canonical
 * tensors, and regex renaming of foreign checkpoints. */
#include "cvaegan_import.h"
#include "convert.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/file.h"

int fs_cvaegan_is_state_dict(const fs_state_dict *sd)
{
    return fs_sd_find(sd, "encoder.stem_conv.weight") || fs_sd_find(sd, "generator.fc.weight");
}

fs_status fs_cvaegan_infer_config(const fs_state_dict *sd, fs_cvaegan_config *c)
{
    const fs_view *v;
    FS_TRY(fs_sd_need(sd, "encoder.stem_conv.weight", 4, &v));
    c->width = v->shape[0];
    FS_TRY(fs_sd_need(sd, "encoder.fc_mu.weight", 2, &v));
    c->z_dim = v->shape[0];
    FS_TRY(fs_sd_need(sd, "generator.fc.weight", 2, &v));
    c->n_id = v->shape[1] - c->z_dim;
    int nd = 0;
    char name[64];
    for (;; nd++) {
        snprintf(name, sizeof name, "generator.deconvs.%d.weight", nd);
        if (!fs_sd_find(sd, name) || nd > 12)
            break;
    }
    c->img_resolution = 1LL << (nd + 1);
    return fs_cvaegan_config_finalize(c, sd->label);
}

static fs_status put_i64(void *u, const char *key, int64_t v)
{
    return fs_weights_writer_put_meta(u, key, FS_META_I64, v, 0, NULL, NULL, 0);
}

fs_status fs_cvaegan_import(fs_weights_writer *w, fs_state_dict *sd, const fs_cvaegan_config *c,
                            fs_dtype dtype)
{
    FS_TRY(fs_cvaegan_config_to_meta(c, put_i64, w));
    fs_weights_importer k = {w, sd, dtype};
    FS_TRY(fs_cvaegan_for_each_tensor(c, fs_weights_import_visit, &k));
    for (size_t i = 0; i < sd->n; i++)
        if (!sd->e[i].used) {
            /* InstanceNorm with track_running_stats keeps buffers we never use */
            const char *n = sd->e[i].name;
            if (strstr(n, "running_mean") || strstr(n, "running_var") ||
                strstr(n, "num_batches_tracked"))
                continue;
            return fs_error(FS_ERR_UNSUPPORTED, "%s: tensor '%s' has no place in the CVAE-GAN "
                            "(use --rename to map module names)", sd->label, n);
        }
    return FS_OK;
}

/* ---- rename rules --------------------------------------------------------------- */

#define MAX_RULES 256

typedef struct {
    regex_t re;
    char *repl;
} rule;

struct fs_rename_rules {
    rule r[MAX_RULES];
    int n;
    char *label;
};

void fs_rename_rules_free(fs_rename_rules *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        regfree(&r->r[i].re);
        free(r->r[i].repl);
    }
    free(r->label);
    free(r);
}

/* glibc's regcomp copies the subtree under a duplicating repetition (a+
 * becomes aa*, a{n} n copies; * and ? copy nothing), so stacked or nested
 * ones such as "a++++" or "((a{99}){99}){99}" grow exponentially: fuzzing
 * found a 30-byte rule that took more than 2 GB. Rules rename module paths,
 * which need neither, so a pattern is held to: at most FS_RENAME_MAX_PATTERN
 * bytes, no + or {m,n} applied to something that already holds one, bounds of
 * at most 255, and no back-reference in the pattern (regexec backtracks on
 * them; the replacement's \1-\9 are unaffected). That keeps every compiled
 * rule within about pattern length x 255 nodes. NULL when the pattern is fine. */
static const char *pattern_problem(const char *re)
{
    if (strlen(re) > FS_RENAME_MAX_PATTERN)
        return "longer than the limit of " FS_RENAME_STR(FS_RENAME_MAX_PATTERN) " bytes";
    enum { MAX_DEPTH = 32 };
    int dup[MAX_DEPTH + 1] = {0}; /* per open group: does it hold a + or {m,n} */
    int depth = 0;
    int prev_dup = 0; /* does the expression just before hold a + or {m,n} */
    for (const char *p = re; *p; p++) {
        char c = *p;
        if (c == '\\') {
            if (p[1] >= '1' && p[1] <= '9')
                return "a back-reference in the pattern (\\1-\\9 belong in the replacement)";
            if (p[1])
                p++;
            prev_dup = 0;
        } else if (c == '[') {
            /* a bracket expression: ']' first (or after '^') is literal */
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p && *p != ']') {
                if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
                    const char *end = strchr(p + 2, p[1]);
                    while (end && end[1] != ']')
                        end = strchr(end + 1, p[1]);
                    if (!end)
                        return NULL; /* unterminated: regcomp says so */
                    p = end + 1;
                }
                p++;
            }
            if (!*p)
                return NULL;
            prev_dup = 0;
        } else if (c == '(') {
            if (depth == MAX_DEPTH)
                return "groups nested more than 32 deep";
            dup[++depth] = 0;
            prev_dup = 0;
        } else if (c == ')' && depth > 0) {
            prev_dup = dup[depth--];
            dup[depth] |= prev_dup;
        } else if (c == '+' || c == '{') {
            if (c == '{') {
                /* {m}, {m,}, {m,n}; anything else is left to regcomp */
                char *end;
                long m = strtol(p + 1, &end, 10), n = m;
                if (end == p + 1 || m < 0)
                    continue;
                if (*end == ',')
                    n = end[1] == '}' ? m : strtol(end + 1, &end, 10), end += *end == ',';
                if (*end != '}')
                    continue;
                if (m > 255 || n > 255)
                    return "a repetition bound above 255";
                p = end;
            }
            if (prev_dup)
                return "+ or {m,n} applied to something that already repeats with + or {m,n}";
            prev_dup = 1;
            dup[depth] = 1;
        } else if (c != '*' && c != '?') {
            prev_dup = 0; /* * and ? keep what they apply to */
        }
    }
    return NULL;
}

fs_status fs_rename_rules_load(const char *path, fs_rename_rules **out)
{
    *out = NULL;
    fs_file_map m;
    FS_TRY(fs_file_map_open(path, &m));
    fs_status s = fs_rename_rules_parse((const char *)m.data, m.size, path, out);
    fs_file_map_close(&m);
    return s;
}

fs_status fs_rename_rules_parse(const char *buf, size_t len, const char *label,
                                fs_rename_rules **out)
{
    *out = NULL;
    const char *path = label ? label : "rename rules";
    /* A rules file is text: a NUL would silently end a line early. */
    const char *nul = len ? memchr(buf, 0, len) : NULL;
    if (nul) {
        int line = 1;
        for (const char *p = buf; p < nul; p++)
            line += *p == '\n';
        return fs_error(FS_ERR_FORMAT, "%s: line %d: NUL byte in a rules file", path, line);
    }
    if (len > FS_RENAME_MAX_FILE)
        return fs_error(FS_ERR_LIMIT, "%s: %zu bytes, more than the %d a rules file may hold",
                        path, len, FS_RENAME_MAX_FILE);
    fs_rename_rules *r = calloc(1, sizeof *r);
    char *text = malloc(len + 1);
    if (!r || !text || !(r->label = strdup(path))) {
        free(r ? r->label : NULL);
        free(r);
        free(text);
        return fs_error(FS_ERR_NOMEM, "%s: out of memory", path);
    }
    if (len)
        memcpy(text, buf, len);
    text[len] = '\0';
    fs_status s = FS_OK;
    int lineno = 0;
    for (char *line = text, *next; line && s == FS_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (!*line || *line == '#')
            continue;
        char *sp = strpbrk(line, " \t");
        if (!sp) {
            s = fs_error(FS_ERR_FORMAT, "%s: line %d: expected 'REGEX REPLACEMENT'", path, lineno);
            break;
        }
        *sp++ = '\0';
        while (*sp == ' ' || *sp == '\t')
            sp++;
        if (r->n >= MAX_RULES) {
            s = fs_error(FS_ERR_LIMIT, "%s: more than %d rules", path, MAX_RULES);
            break;
        }
        const char *problem = pattern_problem(line);
        if (problem) {
            s = fs_error(FS_ERR_LIMIT, "%s: line %d: regex not accepted: %s", path, lineno,
                         problem);
            break;
        }
        int rc = regcomp(&r->r[r->n].re, line, REG_EXTENDED);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &r->r[r->n].re, msg, sizeof msg);
            s = fs_error(FS_ERR_FORMAT, "%s: line %d: bad regex '%s': %s", path, lineno, line, msg);
            break;
        }
        r->r[r->n].repl = strdup(sp);
        if (!r->r[r->n].repl) {
            regfree(&r->r[r->n].re);
            s = fs_error(FS_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        r->n++;
    }
    free(text);
    if (s != FS_OK) {
        fs_rename_rules_free(r);
        return s;
    }
    *out = r;
    return FS_OK;
}

/* name with the first match of rule replaced; \0-\9 insert groups. */
static fs_status apply_rule(const rule *ru, const char *name, char *out, size_t cap)
{
    regmatch_t mt[10];
    if (regexec(&ru->re, name, 10, mt, 0) != 0) {
        snprintf(out, cap, "%s", name);
        return FS_OK;
    }
    size_t o = 0;
#define PUT(ch) do { if (o + 1 >= cap) return FS_ERR_LIMIT; out[o++] = (ch); } while (0)
    for (regoff_t i = 0; i < mt[0].rm_so; i++)
        PUT(name[i]);
    for (const char *p = ru->repl; *p; p++) {
        if (*p == '\\' && p[1] >= '0' && p[1] <= '9') {
            int gi = p[1] - '0';
            if (mt[gi].rm_so >= 0)
                for (regoff_t i = mt[gi].rm_so; i < mt[gi].rm_eo; i++)
                    PUT(name[i]);
            p++;
        } else {
            PUT(*p);
        }
    }
    for (const char *p = name + mt[0].rm_eo; *p; p++)
        PUT(*p);
#undef PUT
    out[o] = '\0';
    return FS_OK;
}

fs_status fs_rename_apply(const fs_rename_rules *r, fs_state_dict *sd)
{
    char a[512], b[512];
    for (size_t i = 0; i < sd->n; i++) {
        snprintf(a, sizeof a, "%s", sd->e[i].name);
        for (int k = 0; k < r->n; k++) {
            if (apply_rule(&r->r[k], a, b, sizeof b) != FS_OK)
                return fs_error(FS_ERR_LIMIT, "%s: renaming '%s' gives a name that is too long",
                                r->label, sd->e[i].name);
            memcpy(a, b, sizeof a);
        }
        if (strcmp(a, sd->e[i].name) != 0) {
            char *copy = strdup(a);
            if (!copy)
                return fs_error(FS_ERR_NOMEM, "out of memory");
            free(sd->e[i].name);
            sd->e[i].name = copy;
        }
    }
    for (size_t i = 0; i < sd->n; i++)
        for (size_t j = i + 1; j < sd->n; j++)
            if (!strcmp(sd->e[i].name, sd->e[j].name))
                return fs_error(FS_ERR_FORMAT, "%s: after renaming, two tensors are called '%s'",
                                r->label, sd->e[i].name);
    return FS_OK;
}
