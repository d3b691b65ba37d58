/* opcode_flag.h - 3.12's interpreter-wide opcode-tracing flag
 * (opcode_flag.c says why tracetap puts it back at stop). */
#ifndef TTX_OPCODE_FLAG_H
#define TTX_OPCODE_FLAG_H

/* 1 if some frame has asked for opcode events since the process started
 * (PyInterpreterState.f_opcode_trace_set), else 0. GIL held. */
int ttx_opcode_flag_read(void);
/* Lowers it: the next PyEval_SetTrace leaves INSTRUCTION events off. */
void ttx_opcode_flag_clear(void);

#endif /* TTX_OPCODE_FLAG_H */
