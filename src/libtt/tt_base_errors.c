/* tt_base_errors.c - names for error codes and event kinds.
 *
 * Owns: tt_strerror (fed by the TT_ERRNO_MAP X-macro in tt.h) and
 * tt_event_kind_name. Must not allocate; returns static strings only.
 * Threads: pure functions, safe anywhere.
 */
#include "tt.h"

const char *tt_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define TT__ERR_CASE(name, value, text) case value: return text;
    TT_ERRNO_MAP(TT__ERR_CASE)
#undef TT__ERR_CASE
    default:
        return "unknown error";
    }
}

const char *tt_event_kind_name(int kind)
{
    static const char *const names[TT_EV__COUNT] = {
        [TT_EV_CALL] = "call",
        [TT_EV_LINE] = "line",
        [TT_EV_RETURN] = "return",
        [TT_EV_EXCEPTION] = "exception",
        [TT_EV_OPCODE] = "opcode",
        [TT_EV_OBJ_CREATE] = "obj_create",
        [TT_EV_OBJ_DESTROY] = "obj_destroy",
        [TT_EV_DROPPED] = "dropped",
    };
    if (kind <= 0 || kind >= TT_EV__COUNT)
        return "?";
    return names[kind];
}
