/* tt_coverage_int.h - the coverage table's private structures, shared by
 * tt_analyze_coverage.c (reading recordings, merging), tt_analyze_coverage_arcs.c (the
 * arcs of full recordings) and tt_analyze_coverage_view.c (statement views).
 * Not installed; no locking (a tt_coverage_t belongs to one thread).
 */
#ifndef TT_COVERAGE_INT_H
#define TT_COVERAGE_INT_H

#include "tt_reader_int.h"

#define NO_FILE UINT32_MAX

typedef struct {
    int32_t line;
    uint64_t hits;
} cov_pair;

typedef struct {
    int32_t from, to;
    uint64_t count;            /* 0: empty slot */
} tt__arc_slot;

typedef struct {
    tt_cov_file_t pub;
    tt_cov_arc_t *arcs;        /* owned: appended, merged by finish */
    size_t n_arcs, cap_arcs;
    int32_t *vlines;           /* owned: a view's lines (set_view) */
    uint64_t *vhits;           /* owned: a view's hits */
    tt_cov_branch_t *vbranches;  /* owned: a view's branch exits */
    uint64_t hash;
    cov_pair *pairs;           /* owned: appended, merged by finish */
    size_t n_pairs, cap_pairs;
    tt_cov_func_t *funcs;      /* owned: appended, merged by finish; names
                                  live in the coverage arena */
    size_t n_funcs, cap_funcs;
    int32_t *lines;            /* owned: pub.lines after finish */
    uint64_t *hits;            /* owned: pub.hits after finish */
} cov_file;

struct tt_coverage {
    tt__arena arena;           /* paths and function names */
    cov_file **files;          /* owned, in order of first sight */
    uint32_t n_files;
    size_t cap_files;
    uint32_t *slots;           /* owned: open addressing, file index + 1 */
    uint32_t slot_bits;
    cov_file **sorted;         /* owned: by path, as of the last finish */
    uint32_t n_sorted;
    uint64_t skipped;
    int want_arcs;             /* tt_coverage_want_arcs */
    int branch;                /* tt_coverage_set_branch */
};

/* What one add() knows about one code id of the recording. */
typedef struct {
    uint32_t file;             /* index into files, or NO_FILE: ignored */
    int32_t base;              /* smallest line of the code */
    uint32_t span;             /* lines base .. base+span-1 */
    uint64_t *counts;          /* owned, lazily allocated: hits by line */
    uint64_t calls;
    int no_array;              /* over the budget: hits go to the pairs */
    int32_t firstline;         /* co_firstlineno: -firstline is entry/exit */
    tt__arc_slot *arcs;        /* owned, lazily: open addressing */
    uint32_t arc_bits, n_arcs;
} code_info;


/* Finds the arcs of r's events (TT_EV_CALL/LINE/RETURN) into info[].arcs;
 * tt_analyze_coverage_arcs.c. 0 or TT_ENOMEM. */
typedef struct tt__arc_walk tt__arc_walk;
int tt__arc_walk_new(tt__arc_walk **out);
void tt__arc_walk_free(tt__arc_walk *w);
/* One event of the merged stream. 0 or TT_ENOMEM. */
int tt__arc_walk_event(tt__arc_walk *w, const tt_event_t *ev,
                       code_info *info, uint32_t n);
/* Adds n traversals of (from, to) to ci's table (n >= 1). 0 or
 * TT_ENOMEM. */
int tt__arc_add(code_info *ci, int32_t from, int32_t to, uint64_t n);
/* Appends code ci's arcs to its file. 0 or TT_ENOMEM. */
int tt__arc_fold(cov_file *f, const code_info *ci);
/* Sorts and merges f's arcs, sets pub.arcs. */
void tt__arc_finish(cov_file *f);
/* Drops f's view (its owned arrays). */
void tt__view_drop(cov_file *f);

#endif
