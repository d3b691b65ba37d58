/* tt_reader_defs.c - parsing the HEADER payload and DEFS records.
 *
 * Owns: the string, code, type, thread and note tables of a tt_reader and
 * its tt_header_t. Every count read from the file is checked against the
 * bytes left before anything is allocated for it, so allocation stays
 * proportional to the file. After a lost DEFS chunk it places later
 * definitions through BASE records and fills the gap with placeholders.
 * Must not read outside the payload. Threads: one reader, one thread.
 */
#include <stdio.h>
#include <string.h>

#include "tt_reader_int.h"
#include "tt_varint.h"

typedef struct {
    const uint8_t *p, *end;
    const char *why;
} cur;

#define BAD(c, msg)            \
    do {                       \
        (c)->why = (msg);      \
        return TT_ECORRUPT;    \
    } while (0)

static int get_u64(cur *c, uint64_t *v, const char *what)
{
    if (tt__get_varint(&c->p, c->end, v) < 0)
        BAD(c, what);
    return 0;
}

static int get_u32(cur *c, uint32_t *v, const char *what)
{
    if (tt__get_u32(&c->p, c->end, v) < 0)
        BAD(c, what);
    return 0;
}

static int get_i32(cur *c, int32_t *v, const char *what)
{
    uint64_t u;
    int64_t s;
    if (tt__get_varint(&c->p, c->end, &u) < 0)
        BAD(c, what);
    s = tt__unzz_s(u);
    if (s < INT32_MIN || s > INT32_MAX)
        BAD(c, what);
    *v = (int32_t)s;
    return 0;
}

/* A length-prefixed string, copied into the arena. */
static int get_str(tt_reader_t *r, cur *c, const char **out, const char *what)
{
    uint64_t n;
    char *s;
    if (tt__get_varint(&c->p, c->end, &n) < 0 ||
        n > (uint64_t)(c->end - c->p))
        BAD(c, what);
    s = tt__arena_strdup(&r->arena, c->p, (size_t)n);
    if (s == NULL)
        return TT_ENOMEM;
    c->p += n;
    *out = s;
    return 0;
}

/* A table of `n` strings; n was checked against the bytes left. */
static int get_strv(tt_reader_t *r, cur *c, uint32_t *count,
                    const char *const **out, const char *what)
{
    const char **v;
    uint32_t n;
    int rc;

    if ((rc = get_u32(c, &n, what)) < 0)
        return rc;
    if (n > (uint64_t)(c->end - c->p))      /* each takes >= 1 byte */
        BAD(c, what);
    v = tt__arena_alloc(&r->arena, (size_t)n * sizeof *v + 1);
    if (v == NULL)
        return TT_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = get_str(r, c, &v[i], what)) < 0)
            return rc;
    *count = n;
    *out = v;
    return 0;
}

int tt__reader_header(tt_reader_t *r, const uint8_t *p, size_t len,
                      const char **why)
{
    cur c = {p, p + len, NULL};
    tt_header_t *h = &r->header;
    int rc;

#define TRY(x)                 \
    if ((rc = (x)) < 0)        \
        goto out
    TRY(get_str(r, &c, &h->python_impl, "the interpreter name is unreadable"));
    TRY(get_str(r, &c, &h->python_version,
                "the interpreter version is unreadable"));
    TRY(get_str(r, &c, &h->python_build, "the interpreter build is unreadable"));
    TRY(get_strv(r, &c, &h->argc, &h->argv, "the command line is unreadable"));
    TRY(get_u64(&c, &h->start_unix_ns, "the start time is unreadable"));
    TRY(get_u64(&c, &h->start_tick, "the start tick is unreadable"));
    TRY(get_str(r, &c, &h->clock_name, "the clock name is unreadable"));
    TRY(get_u64(&c, &h->clock_hz, "the clock rate is unreadable"));
    if (h->clock_hz == 0) {
        c.why = "the clock rate is zero";
        rc = TT_ECORRUPT;
        goto out;
    }
    TRY(get_u32(&c, &h->options, "the options are unreadable"));
    TRY(get_str(r, &c, &h->options_text, "the options text is unreadable"));
    TRY(get_strv(r, &c, &h->n_opnames, &h->opnames,
                 "the opcode-name table is unreadable"));
#undef TRY
    /* Later minor versions may append fields: bytes left are ignored. */
    rc = 0;
out:
    *why = c.why;
    return rc;
}

/* ------------------------------------------------------ placeholders */

static const char lost_string[] = "<lost>";

/* A placeholder name in the second string table; its id or TT_ENOMEM. */
static int64_t xstr(tt_reader_t *r, const char *fmt, uint32_t n)
{
    char buf[48];
    void *arr = (void *)r->xstrings;
    char *s;
    int k = snprintf(buf, sizeof buf, fmt, n);

    if (r->n_xstrings >= UINT32_MAX - TT__XSTR_BASE ||
        tt__grow(&arr, &r->cap_xstrings, (size_t)r->n_xstrings + 1,
                 sizeof(char *)) < 0)
        return TT_ENOMEM;
    r->xstrings = arr;
    s = tt__arena_strdup(&r->arena, buf, (size_t)k);
    if (s == NULL)
        return TT_ENOMEM;
    r->xstrings[r->n_xstrings] = s;
    return (int64_t)TT__XSTR_BASE + r->n_xstrings++;
}

/* Threads up to (not including) `id` as placeholders. */
int tt__reader_fill_threads(tt_reader_t *r, uint32_t id)
{
    void *arr = r->threads;
    if (tt__grow(&arr, &r->cap_threads, id, sizeof *r->threads) < 0)
        return TT_ENOMEM;
    r->threads = arr;
    arr = r->chains;
    if (tt__grow(&arr, &r->cap_chains, id, sizeof *r->chains) < 0)
        return TT_ENOMEM;
    r->chains = arr;
    for (; r->n_threads < id; r->n_threads++) {
        memset(&r->threads[r->n_threads], 0, sizeof *r->threads);
        r->threads[r->n_threads].name = lost_string;
        r->chains[r->n_threads].first_chunk = UINT32_MAX;
        r->chains[r->n_threads].last_chunk = UINT32_MAX;
    }
    return 0;
}

/* Fills ids up to the given counts with placeholders: strings "<lost>",
 * codes "<unknown code N>" (no line table), types "<unknown type N>". */
static int fill_ids(tt_reader_t *r, uint32_t ns, uint32_t nc, uint32_t nt,
                    uint32_t nth)
{
    void *arr;
    int64_t lost = 0, name;

    arr = (void *)r->strings;
    if (tt__grow(&arr, &r->cap_strings, ns, sizeof(char *)) < 0)
        return TT_ENOMEM;
    r->strings = arr;
    while (r->n_strings < ns)
        r->strings[r->n_strings++] = lost_string;
    arr = r->codes;
    if (tt__grow(&arr, &r->cap_codes, nc, sizeof *r->codes) < 0)
        return TT_ENOMEM;
    r->codes = arr;
    if (r->n_codes < nc && (lost = xstr(r, "<lost>", 0)) < 0)
        return TT_ENOMEM;
    while (r->n_codes < nc) {
        tt_code_def_t *c = &r->codes[r->n_codes];
        if ((name = xstr(r, "<unknown code %u>", r->n_codes)) < 0)
            return TT_ENOMEM;
        memset(c, 0, sizeof *c);
        c->filename = (uint32_t)lost;
        c->qualname = (uint32_t)name;
        c->parent = TT_NO_PARENT;
        r->n_codes++;
    }
    arr = r->types;
    if (tt__grow(&arr, &r->cap_types, nt, sizeof *r->types) < 0)
        return TT_ENOMEM;
    r->types = arr;
    while (r->n_types < nt) {
        if ((name = xstr(r, "<unknown type %u>", r->n_types)) < 0)
            return TT_ENOMEM;
        memset(&r->types[r->n_types], 0, sizeof *r->types);
        r->types[r->n_types++].name = (uint32_t)name;
    }
    return tt__reader_fill_threads(r, nth);
}

/* The BASE record: ids defined before this chunk. Places what follows. */
static int rec_base(tt_reader_t *r, cur *c)
{
    uint32_t n[4];
    uint64_t gap = 0;
    const uint32_t have[4] = {r->n_strings, r->n_codes, r->n_types,
                              r->n_threads};
    int rc;

    for (int i = 0; i < 4; i++) {
        if ((rc = get_u32(c, &n[i], "a base record is unreadable")) < 0)
            return rc;
        if (n[i] < have[i])
            BAD(c, "a base record counts fewer definitions than came "
                   "before it");
        gap += n[i] - have[i];
    }
    /* Each lost definition took at least 2 bytes of the lost ones. */
    if (gap > r->unread_bytes / 2 || n[0] >= TT__XSTR_BASE ||
        n[1] >= UINT32_MAX - 1 || n[2] == UINT32_MAX || n[3] == UINT32_MAX)
        BAD(c, "a base record counts definitions the file never held");
    if (gap && (rc = fill_ids(r, n[0], n[1], n[2], n[3])) < 0)
        return rc;
    if (gap)
        r->damage.defs_lost = 1;
    r->ids_uncertain = 0;
    return 0;
}

int tt__reader_placeholders(tt_reader_t *r)
{
    int64_t lost, code, type;
    if (!r->lax)
        return 0;
    if ((lost = xstr(r, "<lost>", 0)) < 0 ||
        (code = xstr(r, "<unknown code>", 0)) < 0 ||
        (type = xstr(r, "<unknown type>", 0)) < 0)
        return TT_ENOMEM;
    memset(&r->unk_code, 0, sizeof r->unk_code);
    r->unk_code.filename = (uint32_t)lost;
    r->unk_code.qualname = (uint32_t)code;
    r->unk_code.parent = TT_NO_PARENT;
    memset(&r->unk_type, 0, sizeof r->unk_type);
    r->unk_type.name = (uint32_t)type;
    return 0;
}

void tt__reader_defs_lost(tt_reader_t *r)
{
    r->ids_uncertain = 1;
}

/* ------------------------------------------------------------ records */

static int rec_string(tt_reader_t *r, cur *c)
{
    void *arr = r->strings;
    char *s;
    int rc;

    if (r->n_strings >= TT__XSTR_BASE)
        BAD(c, "too many strings");
    rc = tt__grow(&arr, &r->cap_strings, (size_t)r->n_strings + 1,
                  sizeof(char *));
    if (rc < 0)
        return TT_ENOMEM;
    r->strings = arr;
    s = tt__arena_strdup(&r->arena, c->p, (size_t)(c->end - c->p));
    if (s == NULL)
        return TT_ENOMEM;
    r->strings[r->n_strings++] = s;
    c->p = c->end;
    return 0;
}

static int rec_code(tt_reader_t *r, cur *c)
{
    tt_code_def_t def;
    tt_line_range_t *ranges = NULL;
    uint32_t parent1, prev_end = 0;
    int32_t line;
    void *arr;
    int rc;

    memset(&def, 0, sizeof def);
    if ((rc = get_u32(c, &def.filename, "a code record is unreadable")) < 0 ||
        (rc = get_u32(c, &def.qualname, "a code record is unreadable")) < 0 ||
        (rc = get_i32(c, &def.firstlineno, "a code record is unreadable")) < 0 ||
        (rc = get_u32(c, &def.flags, "a code record is unreadable")) < 0 ||
        (rc = get_u32(c, &parent1, "a code record is unreadable")) < 0 ||
        (rc = get_u32(c, &def.n_ranges, "a code record is unreadable")) < 0)
        return rc;
    if (def.filename >= r->n_strings || def.qualname >= r->n_strings)
        BAD(c, "a code record names a string id not defined before it");
    def.parent = parent1 - 1u;
    if (def.parent != TT_NO_PARENT && def.parent >= r->n_codes)
        BAD(c, "a code record names a parent code not defined before it");
    if (r->n_codes >= UINT32_MAX - 1)
        BAD(c, "too many code objects");
    if (def.n_ranges > (uint64_t)(c->end - c->p) / 3)  /* >= 3 bytes each */
        BAD(c, "a code record's line table is cut short");
    if (def.n_ranges) {
        ranges = tt__arena_alloc(&r->arena, def.n_ranges * sizeof *ranges);
        if (ranges == NULL)
            return TT_ENOMEM;
    }
    line = def.firstlineno;
    for (uint32_t i = 0; i < def.n_ranges; i++) {
        uint32_t gap, n;
        int64_t dl;
        uint64_t u;
        if ((rc = get_u32(c, &gap, "a line-table row is unreadable")) < 0 ||
            (rc = get_u32(c, &n, "a line-table row is unreadable")) < 0 ||
            (rc = get_u64(c, &u, "a line-table row is unreadable")) < 0)
            return rc;
        if (gap > UINT32_MAX - prev_end || n > UINT32_MAX - prev_end - gap)
            BAD(c, "a line-table row runs past offset 2^32");
        dl = tt__unzz_s(u);
        if (dl > (int64_t)INT32_MAX - line || dl < (int64_t)INT32_MIN - line)
            BAD(c, "a line-table row's line is outside the 32-bit range");
        line = (int32_t)(line + dl);
        ranges[i].start = prev_end + gap;
        ranges[i].end = ranges[i].start + n;
        ranges[i].line = line;
        prev_end = ranges[i].end;
    }
    def.ranges = ranges;
    arr = r->codes;
    rc = tt__grow(&arr, &r->cap_codes, (size_t)r->n_codes + 1, sizeof def);
    if (rc < 0)
        return TT_ENOMEM;
    r->codes = arr;
    r->codes[r->n_codes++] = def;
    return 0;
}

static int rec_type(tt_reader_t *r, cur *c)
{
    tt_type_def_t def;
    void *arr;
    int rc;

    memset(&def, 0, sizeof def);
    if ((rc = get_u32(c, &def.name, "a type record is unreadable")) < 0 ||
        (rc = get_u64(c, &def.basicsize, "a type record is unreadable")) < 0 ||
        (rc = get_u32(c, &def.flags, "a type record is unreadable")) < 0)
        return rc;
    if (def.name >= r->n_strings)
        BAD(c, "a type record names a string id not defined before it");
    if (r->n_types == UINT32_MAX)
        BAD(c, "too many types");
    arr = r->types;
    rc = tt__grow(&arr, &r->cap_types, (size_t)r->n_types + 1, sizeof def);
    if (rc < 0)
        return TT_ENOMEM;
    r->types = arr;
    r->types[r->n_types++] = def;
    return 0;
}

static int rec_thread(tt_reader_t *r, cur *c)
{
    tt_thread_info_t *t;
    uint32_t id;
    uint64_t ident;
    void *arr;
    const char *name;
    int rc;

    if ((rc = get_u32(c, &id, "a thread record is unreadable")) < 0 ||
        (rc = get_u64(c, &ident, "a thread record is unreadable")) < 0)
        return rc;
    if (id > r->n_threads && r->ids_uncertain &&
        (uint64_t)(id - r->n_threads) <= r->unread_bytes / 2) {
        if ((rc = tt__reader_fill_threads(r, id)) < 0)   /* lost ones before it */
            return rc;
    }
    if (id != r->n_threads || id == UINT32_MAX)
        BAD(c, "a thread record is out of sequence");
    arr = r->threads;
    rc = tt__grow(&arr, &r->cap_threads, (size_t)id + 1, sizeof *t);
    if (rc < 0)
        return TT_ENOMEM;
    r->threads = arr;
    arr = r->chains;
    rc = tt__grow(&arr, &r->cap_chains, (size_t)id + 1, sizeof *r->chains);
    if (rc < 0)
        return TT_ENOMEM;
    r->chains = arr;
    name = tt__arena_strdup(&r->arena, c->p, (size_t)(c->end - c->p));
    if (name == NULL)
        return TT_ENOMEM;
    c->p = c->end;
    t = &r->threads[id];
    memset(t, 0, sizeof *t);
    t->ident = ident;
    t->name = name;
    r->chains[id].first_chunk = r->chains[id].last_chunk = UINT32_MAX;
    r->n_threads++;
    return 0;
}

static int rec_thread_name(tt_reader_t *r, cur *c)
{
    uint32_t id;
    const char *name;
    int rc;

    if ((rc = get_u32(c, &id, "a thread-name record is unreadable")) < 0)
        return rc;
    if (id >= r->n_threads)
        BAD(c, "a thread-name record names an undefined thread");
    name = tt__arena_strdup(&r->arena, c->p, (size_t)(c->end - c->p));
    if (name == NULL)
        return TT_ENOMEM;
    c->p = c->end;
    r->threads[id].name = name;
    return 0;
}

static int rec_note(tt_reader_t *r, cur *c)
{
    const char *key, *value;
    void *arr;
    int rc;

    if ((rc = get_str(r, c, &key, "a note's key is unreadable")) < 0)
        return rc;
    value = tt__arena_strdup(&r->arena, c->p, (size_t)(c->end - c->p));
    if (value == NULL)
        return TT_ENOMEM;
    c->p = c->end;
    if (r->n_notes == UINT32_MAX)
        BAD(c, "too many notes");
    arr = (void *)r->note_keys;
    if (tt__grow(&arr, &r->cap_note_keys, (size_t)r->n_notes + 1,
                 sizeof(char *)) < 0)
        return TT_ENOMEM;
    r->note_keys = arr;
    arr = (void *)r->note_values;
    if (tt__grow(&arr, &r->cap_note_values, (size_t)r->n_notes + 1,
                 sizeof(char *)) < 0)
        return TT_ENOMEM;
    r->note_values = arr;
    r->note_keys[r->n_notes] = key;
    r->note_values[r->n_notes] = value;
    r->n_notes++;
    return 0;
}

/* An ancillary SOURCE record (0x81): a file's identity. A malformed one,
 * or one naming a string not yet defined, is skipped as an unknown
 * ancillary record would be: it costs the file's source check, nothing
 * else. Only TT_ENOMEM fails. */
static int rec_source(tt_reader_t *r, cur *c)
{
    tt_source_def_t d;
    uint64_t zz;
    void *arr;

    memset(&d, 0, sizeof d);
    if (tt__get_u32(&c->p, c->end, &d.filename) < 0 ||
        tt__get_u32(&c->p, c->end, &d.flags) < 0 ||
        tt__get_varint(&c->p, c->end, &d.size) < 0 ||
        tt__get_varint(&c->p, c->end, &zz) < 0 || c->end - c->p < 4 ||
        d.filename >= r->n_strings || r->n_sources == UINT32_MAX)
        return 0;
    d.mtime_ns = tt__unzz_s(zz);
    d.crc32c = tt__get_le32(c->p);
    arr = r->sources;
    if (tt__grow(&arr, &r->cap_sources, (size_t)r->n_sources + 1,
                 sizeof d) < 0)
        return TT_ENOMEM;
    r->sources = arr;
    r->sources[r->n_sources++] = d;
    return 0;
}

uint32_t tt_reader_n_sources(const tt_reader_t *r)
{
    return r ? r->n_sources : 0;
}

const tt_source_def_t *tt_reader_source(const tt_reader_t *r, uint32_t i)
{
    return r != NULL && i < r->n_sources ? &r->sources[i] : NULL;
}

#define HANDLED 0x100u           /* not a kind byte: record already done */

int tt__reader_defs(tt_reader_t *r, const uint8_t *p, size_t len,
                    const char **why, size_t *bad)
{
    const uint8_t *q = p, *end = p + len;
    int rc = 0;

    *why = NULL;
    while (q < end) {
        cur c;
        uint64_t n;
        unsigned kind = *q;
        const uint8_t *rec = q++;

        if (tt__get_varint(&q, end, &n) < 0 || n > (uint64_t)(end - q)) {
            *why = "a definition record's length is unreadable";
            *bad = (size_t)(rec - p);
            return TT_ECORRUPT;
        }
        c.p = q;
        c.end = q + n;
        c.why = NULL;
        if (rec == p && kind == TT__REC_BASE) {
            rc = rec_base(r, &c);
            kind = HANDLED;
        } else if (r->ids_uncertain &&
                   (kind == TT__REC_STRING || kind == TT__REC_CODE ||
                    kind == TT__REC_TYPE)) {
            /* After a loss and no BASE record (an older writer): the id
             * this defines is unknown, so it is not guessed. */
            r->lax = 1;
            r->damage.defs_lost = 1;
            kind = HANDLED;
        }
        switch (kind) {
        case HANDLED:
            break;
        case TT__REC_STRING:
            rc = rec_string(r, &c);
            break;
        case TT__REC_CODE:
            rc = rec_code(r, &c);
            break;
        case TT__REC_TYPE:
            rc = rec_type(r, &c);
            break;
        case TT__REC_THREAD:
            rc = rec_thread(r, &c);
            break;
        case TT__REC_THREAD_NAME:
            rc = rec_thread_name(r, &c);
            break;
        case TT__REC_NOTE:
            rc = rec_note(r, &c);
            break;
        case TT__REC_SOURCE:
            rc = rec_source(r, &c);
            break;
        default:
            if (!(kind & TT__REC_ANCILLARY)) {
                c.why = "a definition record has an unknown required kind";
                rc = TT_ECORRUPT;
            }
            break;       /* ancillary: skipped */
        }
        if (rc < 0) {
            *why = c.why;
            *bad = (size_t)(rec - p);
            return rc;
        }
        /* Later minor versions may append fields to a record. */
        q += n;
    }
    return 0;
}
