/* tt_config.h - build-time switches and compiler helpers for libtt.
 *
 * Owns: TT_DEBUG (dense asserts; meson -Ddebug_asserts=true), TT_DO_NOTHING
 * (tbuf appends compile to nothing: the overhead baseline; meson
 * -Ddo_nothing=true, built and measured by `make bench-do-nothing`), and
 * the TT_LIKELY/TT_UNLIKELY/TT_INLINE/TT_NOINLINE helpers. Included by the
 * public tt.h (through tt_tbuf.h), so every name here carries the TT_ prefix.
 */
#ifndef TT_CONFIG_H
#define TT_CONFIG_H

#if defined(__GNUC__) || defined(__clang__)
#  define TT_LIKELY(x)   __builtin_expect(!!(x), 1)
#  define TT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define TT_INLINE      static inline __attribute__((always_inline))
#  define TT_NOINLINE    __attribute__((noinline))
#else
#  define TT_LIKELY(x)   (x)
#  define TT_UNLIKELY(x) (x)
#  define TT_INLINE      static inline
#  define TT_NOINLINE
#endif

#ifdef TT_DEBUG
#  include <assert.h>
#  define TT_ASSERT(x) assert(x)
#else
#  define TT_ASSERT(x) ((void)0)
#endif

#endif /* TT_CONFIG_H */
