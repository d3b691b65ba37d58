/* tt_base_crc32c.c - CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Owns: the slice-by-8 table implementation and, on x86-64 with GCC/clang,
 * an SSE4.2 crc32 path chosen once at run time. Check value: "123456789"
 * gives 0xE3069283. Must not allocate. Threads: the tables are built once
 * under pthread_once; afterwards everything is read-only.
 */
#include <pthread.h>
#include <string.h>

#include "tt_internal.h"

static uint32_t table[8][256];         /* written once, by init_tables */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0 - (c & 1)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^
                          table[0][table[t - 1][i] & 0xff];
}

uint32_t tt__crc32c_sw(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;

    pthread_once(&table_once, init_tables);
    while (n && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                           (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
            table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
            table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TT__HAVE_SSE42_PATH 1
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;

    while (n && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

static int have_hw = -1;               /* set once under hw_once */
static pthread_once_t hw_once = PTHREAD_ONCE_INIT;

static void detect_hw(void)
{
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
}
#endif

uint32_t tt__crc32c(uint32_t crc, const void *data, size_t n)
{
#ifdef TT__HAVE_SSE42_PATH
    pthread_once(&hw_once, detect_hw);
    if (have_hw)
        return crc32c_hw(crc, data, n);
#endif
    return tt__crc32c_sw(crc, data, n);
}
