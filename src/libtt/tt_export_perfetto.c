/* tt_export_perfetto.c - the Perfetto writer of the timeline exporter
 * (tt_timeline.h): a Trace protobuf (protos/perfetto/trace/), packet by
 * packet, with TrackDescriptors for the process, its threads and the
 * counters, and TrackEvents whose names and source locations are interned.
 * Owns: the field numbers and the interning state. Sequences: 1 carries
 * the descriptors and the cut; thread i writes on sequence i + 2 and
 * counter i on 0x80000000 + i (so each sequence's timestamps are in order,
 * as the thread's events and the counter's values are). Must not: print anywhere but its FILE*. One owner thread.
 */
#include <string.h>

#include "tt_pb.h"
#include "tt_timeline.h"

/* Field numbers (protos/perfetto/trace/trace.proto, trace_packet.proto,
 * track_event/ *.proto, interned_data/interned_data.proto). */
enum {
    TRACE_PACKET = 1,
    PKT_TIMESTAMP = 8, PKT_SEQ_ID = 10, PKT_TRACK_EVENT = 11,
    PKT_INTERNED = 12, PKT_SEQ_FLAGS = 13, PKT_TRACK_DESC = 60,
    PKT_FIRST_ON_SEQ = 87,
    TD_UUID = 1, TD_NAME = 2, TD_PROCESS = 3, TD_THREAD = 4,
    TD_PARENT = 5, TD_COUNTER = 8,
    PD_PID = 1, PD_NAME = 6,
    THD_PID = 1, THD_TID = 2, THD_NAME = 5,
    TE_CATEGORY_IIDS = 3, TE_DEBUG = 4, TE_TYPE = 9, TE_NAME_IID = 10,
    TE_TRACK_UUID = 11, TE_NAME = 23, TE_COUNTER = 30, TE_SRC_IID = 34,
    DA_NAME = 10, DA_INT = 4,
    ID_CATEGORIES = 1, ID_NAMES = 2, ID_SOURCES = 4,
    IID = 1, IID_NAME = 2,                    /* EventName, EventCategory */
    SL_FILE = 2, SL_FUNCTION = 3, SL_LINE = 4,
};
enum { SEQ_CLEARED = 1, SEQ_NEEDS_STATE = 2 };
enum { TYPE_BEGIN = 1, TYPE_END = 2, TYPE_INSTANT = 3, TYPE_COUNTER = 4 };

#define PROCESS_UUID 1u
#define THREAD_UUID(i) ((uint64_t)(i) + 2)      /* short varints: every */
#define COUNTER_UUID(i) ((1ull << 32) | (i))     /* event names its track */
#define SEQ_PROCESS 1u
#define SEQ_THREAD(i) ((uint64_t)(i) + 2)
#define SEQ_COUNTER(i) (0x80000000ull + (i))

typedef struct {
    uint8_t *interned;            /* owned: bit per code id */
    size_t cap;                   /* bytes */
    int started;                  /* descriptor written, state cleared */
} seq_t;

typedef struct {
    FILE *out;                    /* borrowed; first (tt__tl_sink_new) */
    tt_pb_t pb;
    const tt_reader_t *r;
    seq_t *thr;                   /* owned, per thread */
    size_t n_thr;
    seq_t proc;
    int io_err;
} pf_t;

#define BATCH (256u << 10)        /* bytes of packets written at once */

/* Writes what pb holds (whole packets) to out and empties it. */
static int write_out(pf_t *p)
{
    if (p->pb.len && fwrite(p->pb.buf, 1, p->pb.len, p->out) != p->pb.len)
        p->io_err = 1;
    tt__pb_reset(&p->pb);
    return p->io_err ? TT_EIO : 0;
}

/* Ends the packet opened by packet_head (a Trace.packet field); writes
 * the batch when it is full. On an encoder error the batch is dropped
 * (the export fails anyway). */
static int end_packet(pf_t *p)
{
    tt__pb_end(&p->pb);
    if (p->pb.err) {
        int e = p->pb.err;
        p->pb.err = 0;
        tt__pb_reset(&p->pb);
        return e;
    }
    return p->pb.len >= BATCH ? write_out(p) : 0;
}

/* The header of a packet on sequence seq: a first packet clears the
 * sequence's incremental state and defines the categories. */
static void packet_head(pf_t *p, seq_t *s, uint64_t seq, uint64_t ns,
                        int with_ts)
{
    tt_pb_t *pb = &p->pb;
    tt__pb_begin(pb, TRACE_PACKET);
    if (with_ts)
        tt__pb_varint(pb, PKT_TIMESTAMP, ns);
    tt__pb_varint(pb, PKT_SEQ_ID, seq);
    if (s->started) {
        tt__pb_varint(pb, PKT_SEQ_FLAGS, SEQ_NEEDS_STATE);
        return;
    }
    s->started = 1;
    tt__pb_varint(pb, PKT_SEQ_FLAGS, SEQ_CLEARED | SEQ_NEEDS_STATE);
    tt__pb_varint(pb, PKT_FIRST_ON_SEQ, 1);
    tt__pb_begin(pb, PKT_INTERNED);
    for (int k = 0; k < TT__TL__KINDS; k++) {
        tt__pb_begin(pb, ID_CATEGORIES);
        tt__pb_varint(pb, IID, (uint64_t)k + 1);
        tt__pb_str(pb, IID_NAME, tt__tl_kind_names[k]);
        tt__pb_end(pb);
    }
    tt__pb_end(pb);
}

static void thread_descriptor(pf_t *p, uint32_t i)
{
    const tt_thread_info_t *ti = tt_reader_thread(p->r, i);
    char buf[32];
    const char *name = ti && ti->name && ti->name[0] ? ti->name : NULL;
    tt_pb_t *pb = &p->pb;

    if (name == NULL) {
        snprintf(buf, sizeof buf, "thread %u", (unsigned)i);
        name = buf;
    }
    packet_head(p, &p->thr[i], SEQ_THREAD(i), 0, 0);
    tt__pb_begin(pb, PKT_TRACK_DESC);
    tt__pb_varint(pb, TD_UUID, THREAD_UUID(i));
    tt__pb_varint(pb, TD_PARENT, PROCESS_UUID);
    tt__pb_begin(pb, TD_THREAD);
    tt__pb_varint(pb, THD_PID, TT__TL_PID);
    tt__pb_varint(pb, THD_TID, TT__TL_PID + (uint64_t)i);
    tt__pb_str(pb, THD_NAME, name);
    tt__pb_end(pb);
    tt__pb_end(pb);
}

/* The sequence of thread i, its descriptor written on first use. */
static int thr_seq(pf_t *p, uint32_t i, seq_t **out)
{
    int rc;
    if (i >= p->n_thr) {
        size_t old = p->n_thr, cap = p->n_thr;
        void *q = p->thr;
        if (tt__grow(&q, &cap, (size_t)i + 1, sizeof *p->thr) < 0)
            return TT_ENOMEM;
        p->thr = q;
        memset(p->thr + old, 0, (cap - old) * sizeof *p->thr);
        p->n_thr = cap;
    }
    if (!p->thr[i].started) {
        thread_descriptor(p, i);
        if ((rc = end_packet(p)) < 0)
            return rc;
    }
    *out = &p->thr[i];
    return 0;
}

/* Interns code's name and source location on sequence s (in the packet
 * being built) unless done before. The iid of both is code + 1. */
static void intern_code(pf_t *p, seq_t *s, uint32_t code)
{
    const tt_code_def_t *def;
    const char *q, *f;
    size_t byte = code / 8;
    tt_pb_t *pb = &p->pb;

    if (byte < s->cap && (s->interned[byte] >> (code % 8) & 1))
        return;
    if (byte >= s->cap) {
        void *m = s->interned;
        size_t old = s->cap;
        if (tt__grow(&m, &s->cap, byte + 1, 1) < 0) {
            pb->err = TT_ENOMEM;
            return;
        }
        s->interned = m;
        memset(s->interned + old, 0, s->cap - old);
    }
    s->interned[byte] |= (uint8_t)(1u << (code % 8));
    def = tt_reader_code(p->r, code);
    q = def ? tt_reader_string(p->r, def->qualname) : NULL;
    f = def ? tt_reader_string(p->r, def->filename) : NULL;
    tt__pb_begin(pb, PKT_INTERNED);
    tt__pb_begin(pb, ID_NAMES);
    tt__pb_varint(pb, IID, (uint64_t)code + 1);
    tt__pb_str(pb, IID_NAME, q ? q : "?");
    tt__pb_end(pb);
    tt__pb_begin(pb, ID_SOURCES);
    tt__pb_varint(pb, IID, (uint64_t)code + 1);
    tt__pb_str(pb, SL_FILE, f ? f : "?");
    tt__pb_str(pb, SL_FUNCTION, q ? q : "?");
    tt__pb_varint(pb, SL_LINE, def ? (uint32_t)def->firstlineno : 0);
    tt__pb_end(pb);
    tt__pb_end(pb);
}

static int pf_start(void *ctx, const tt__tl_meta_t *m)
{
    pf_t *p = ctx;
    tt_pb_t *pb = &p->pb;
    int rc;

    p->r = m->r;
    packet_head(p, &p->proc, SEQ_PROCESS, 0, 0);
    tt__pb_begin(pb, PKT_TRACK_DESC);
    tt__pb_varint(pb, TD_UUID, PROCESS_UUID);
    tt__pb_begin(pb, TD_PROCESS);
    tt__pb_varint(pb, PD_PID, TT__TL_PID);
    tt__pb_str(pb, PD_NAME, m->process_name);
    tt__pb_end(pb);
    tt__pb_end(pb);
    if ((rc = end_packet(p)) < 0)
        return rc;
    for (uint32_t i = 0; i < m->n_counters; i++) {
        packet_head(p, &p->proc, SEQ_PROCESS, 0, 0);
        tt__pb_begin(pb, PKT_TRACK_DESC);
        tt__pb_varint(pb, TD_UUID, COUNTER_UUID(i));
        tt__pb_varint(pb, TD_PARENT, PROCESS_UUID);
        tt__pb_str(pb, TD_NAME, m->counter_names[i]);
        tt__pb_begin(pb, TD_COUNTER);
        tt__pb_end(pb);
        tt__pb_end(pb);
        if ((rc = end_packet(p)) < 0)
            return rc;
    }
    for (uint32_t i = 0; i < m->n_threads; i++) {
        seq_t *s;
        if ((rc = thr_seq(p, i, &s)) < 0)
            return rc;
    }
    return 0;
}

/* A slice or instant on a thread's track (or the process's). */
static int event(pf_t *p, uint32_t thread, uint64_t ns, int type, int kind,
                 uint32_t code, const char *name, int32_t line)
{
    tt_pb_t *pb = &p->pb;
    uint64_t track = PROCESS_UUID, seq = SEQ_PROCESS;
    seq_t *s = &p->proc;
    int rc;

    if (thread != TT__TL_PROCESS) {
        if ((rc = thr_seq(p, thread, &s)) < 0)
            return rc;
        track = THREAD_UUID(thread);
        seq = SEQ_THREAD(thread);
    }
    packet_head(p, s, seq, ns, 1);
    if (code != TT_NO_CODE && type != TYPE_END)
        intern_code(p, s, code);
    tt__pb_begin(pb, PKT_TRACK_EVENT);
    tt__pb_varint(pb, TE_TYPE, (uint64_t)type);
    tt__pb_varint(pb, TE_TRACK_UUID, track);
    if (type != TYPE_END) {
        tt__pb_varint(pb, TE_CATEGORY_IIDS, (uint64_t)kind + 1);
        if (name != NULL)
            tt__pb_str(pb, TE_NAME, name);
        else
            tt__pb_varint(pb, TE_NAME_IID, (uint64_t)code + 1);
        if (code != TT_NO_CODE)
            tt__pb_varint(pb, TE_SRC_IID, (uint64_t)code + 1);
        if (line != TT_NO_LINE && kind != TT__TL_CALL) {
            tt__pb_begin(pb, TE_DEBUG);
            tt__pb_str(pb, DA_NAME, "line");
            tt__pb_varint(pb, DA_INT, (uint64_t)(int64_t)line);
            tt__pb_end(pb);
        }
    }
    tt__pb_end(pb);
    return end_packet(p);
}

static int pf_begin(void *ctx, uint32_t thread, uint64_t ns, int kind,
                    uint32_t code, int32_t line)
{
    char buf[32];
    if (kind == TT__TL_LINE) {
        snprintf(buf, sizeof buf, "line %ld", (long)line);
        return event(ctx, thread, ns, TYPE_BEGIN, kind, code, buf, line);
    }
    return event(ctx, thread, ns, TYPE_BEGIN, kind, code, NULL, line);
}

static int pf_end(void *ctx, uint32_t thread, uint64_t ns)
{
    return event(ctx, thread, ns, TYPE_END, 0, TT_NO_CODE, NULL, TT_NO_LINE);
}

static int pf_instant(void *ctx, uint32_t thread, uint64_t ns, int kind,
                      const char *name, uint32_t code, int32_t line)
{
    return event(ctx, thread, ns, TYPE_INSTANT, kind, code, name, line);
}

static int pf_counter(void *ctx, uint32_t track, uint64_t ns, int64_t v)
{
    pf_t *p = ctx;
    /* No interned data: the packet needs no sequence state. */
    tt__pb_begin(&p->pb, TRACE_PACKET);
    tt__pb_varint(&p->pb, PKT_TIMESTAMP, ns);
    tt__pb_varint(&p->pb, PKT_SEQ_ID, SEQ_COUNTER(track));
    tt__pb_begin(&p->pb, PKT_TRACK_EVENT);
    tt__pb_varint(&p->pb, TE_TYPE, TYPE_COUNTER);
    tt__pb_varint(&p->pb, TE_TRACK_UUID, COUNTER_UUID(track));
    tt__pb_varint(&p->pb, TE_COUNTER, (uint64_t)v);
    tt__pb_end(&p->pb);
    return end_packet(p);
}

static int pf_finish(void *ctx)
{
    pf_t *p = ctx;
    write_out(p);
    return p->io_err || ferror(p->out) ? TT_EIO : 0;
}

static void pf_close(void *ctx)
{
    pf_t *p = ctx;
    for (size_t i = 0; i < p->n_thr; i++)
        tt__free(p->thr[i].interned);
    tt__free(p->thr);
    tt__free(p->proc.interned);
    tt__pb_free(&p->pb);
    tt__free(p);
}

/* Contract (tt_timeline.h): 0 and *sink, or TT_ENOMEM. */
int tt__tl_perfetto(FILE *out, tt__tl_sink_t *sink)
{
    static const tt__tl_sink_t ops = {NULL, pf_start, pf_begin, pf_end,
                                      pf_instant, pf_counter, pf_finish,
                                      pf_close};
    return tt__tl_sink_new(sink, &ops, sizeof(pf_t), out) ? 0 : TT_ENOMEM;
}
