"""scripts/layering.py: the checker of the extension's part graph finds
what it is meant to find. (The graph itself is checked on every build by
scripts/test_matrix.py and `make check-layering`.)"""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layering():
    spec = importlib.util.spec_from_file_location("layering", ROOT / "scripts" / "layering.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_declared_reads_prototypes_and_externs_not_bodies_or_types(tmp_path):
    h = tmp_path / "x.h"
    h.write_text(
        "/* int in_comment(void); */\n"
        "#define NOT_THIS(x) (x)\n"
        "typedef struct { int a; } some_t;\n"
        "struct tagged { int (*fp)(void); };\n"
        "int f(int a,\n      const char *b);\n"
        "extern __thread int tls_var __attribute__((tls_model(\"initial-exec\")));\n"
        "extern PyMethodDef table[];\n"
        "static inline int g(void)\n{\n    return helper(1);\n}\n"
        "void after_inline(void);\n")
    assert _layering().declared(h) == {"f", "tls_var", "table", "after_inline"}


def test_parts_and_cycles():
    lay = _layering()
    assert lay.part_of("module.c") == "module"
    assert lay.part_of("core.c") == "core"
    assert lay.part_of("capture/session.c") == "capture"
    assert lay.part_of("bindings/reader.c") == "bindings"
    # a binding that reaches into capture breaks the rule
    assert ("bindings", "capture") not in lay.ALLOWED
    assert ("core", "capture") not in lay.ALLOWED
    edges = {("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}
    assert lay.sccs({"a", "b", "c", "d"}, edges) == [{"a", "b", "c"}]
    assert lay.sccs({"a", "b"}, {("a", "b")}) == []
