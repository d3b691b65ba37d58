/* tt_format.h - constants of the .ttrace file format (docs/FORMAT.md).
 *
 * Owns: magic, versions, chunk and record type numbers, size limits, and the
 * little-endian helpers. Shared by the writer and the reader, nothing else.
 * Must not: hold state or logic beyond byte shuffling. No thread concerns.
 */
#ifndef TT_FORMAT_H
#define TT_FORMAT_H

#include <stdint.h>
#include <string.h>

#define TT__MAGIC          "\x89TTRACE\n"
#define TT__MAGIC_LEN      8
#define TT__FILE_HEAD      12          /* magic, u16 major, u16 minor */
#define TT__VERSION_MAJOR  1
#define TT__VERSION_MINOR  0

/* Chunk types. 0x80..0xFF are ancillary: readers skip unknown ones. */
#define TT__CH_HEADER      0x01
#define TT__CH_DEFS        0x02
#define TT__CH_EVENTS      0x03
#define TT__CH_END         0x04
#define TT__CH_ANCILLARY   0x80

#define TT__NO_THREAD      UINT32_MAX  /* thread field of non-event chunks */
#define TT__MAX_PAYLOAD    (1u << 30)  /* larger length fields are corrupt */
#define TT__MAX_RECORD     (64u << 20) /* largest definition record */

/* Definition record kinds inside a DEFS chunk. 0x80..0xFF are ancillary. */
#define TT__REC_STRING       0x01
#define TT__REC_CODE         0x02
#define TT__REC_TYPE         0x03
#define TT__REC_THREAD       0x04
#define TT__REC_THREAD_NAME  0x05
#define TT__REC_NOTE         0x06
#define TT__REC_ANCILLARY    0x80
/* Ancillary record 0x80, first in every DEFS chunk of writers since issue
 * 12: the numbers of strings, codes, types and threads defined before the
 * chunk (four varint32), so that a reader can place later definitions at
 * their ids after losing a DEFS chunk. */
#define TT__REC_BASE         0x80
#define TT__REC_BASE_MAX     22        /* kind, length, 4 x varint32 */
/* Ancillary record 0x81: a source file's identity when code
 * from it was first seen: varint32 filename (string id), varint32 flags,
 * varint size, zigzag mtime_ns, u32le crc32c (FORMAT.md §5). */
#define TT__REC_SOURCE       0x81

static inline void tt__put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void tt__put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t tt__get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t tt__get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

#endif /* TT_FORMAT_H */
