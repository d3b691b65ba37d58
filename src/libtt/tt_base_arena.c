/* tt_base_arena.c - a bump allocator for the reader's strings and line tables.
 *
 * Owns: blocks that never move, so pointers handed out stay valid until
 * tt__arena_free. Must not: allocate outside tt__malloc. Threads: one owner.
 */
#include <string.h>

#include "tt_internal.h"

#define ARENA_BLOCK 16384

struct tt__arena_block {
    tt__arena_block *next;
    max_align_t align[];           /* data follows, suitably aligned */
};

void *tt__arena_alloc(tt__arena *a, size_t n)
{
    size_t want = (n + 15) & ~(size_t)15;
    tt__arena_block *b;
    size_t size;
    void *r;

    if (want < n)
        return NULL;
    if (a->head == NULL || a->size - a->used < want) {
        size = want > ARENA_BLOCK ? want : ARENA_BLOCK;
        if (size > SIZE_MAX - sizeof(tt__arena_block))
            return NULL;
        b = tt__malloc(sizeof(tt__arena_block) + size);
        if (b == NULL)
            return NULL;
        if (a->head != NULL && want > ARENA_BLOCK &&
            a->size - a->used >= ARENA_BLOCK / 4) {
            /* A big request gets its own block behind the current head,
             * so the head's free space is not wasted. */
            b->next = a->head->next;
            a->head->next = b;
            return (void *)b->align;
        }
        b->next = a->head;
        a->head = b;
        a->used = 0;
        a->size = size;
    }
    r = (char *)a->head->align + a->used;
    a->used += want;
    return r;
}

char *tt__arena_strdup(tt__arena *a, const void *s, size_t n)
{
    char *r;
    if (n == SIZE_MAX)
        return NULL;
    r = tt__arena_alloc(a, n + 1);
    if (r == NULL)
        return NULL;
    if (n)
        memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

void tt__arena_free(tt__arena *a)
{
    tt__arena_block *b = a->head;
    while (b != NULL) {
        tt__arena_block *next = b->next;
        tt__free(b);
        b = next;
    }
    a->head = NULL;
    a->used = a->size = 0;
}
