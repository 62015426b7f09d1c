#!/usr/bin/env python3
"""scripts/check-alloc on small made-up trees: it must refuse a bare malloc,
calloc, realloc or strdup outside core/xalloc.c, naming file:line, and accept
the x-functions, a marked input-sized call, and words in comments or strings."""
import os
import subprocess
import sys
import tempfile
import unittest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "check-alloc")


def run(files):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        for rel, text in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        p = subprocess.run([sys.executable, CHECK, src], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout.replace(src + os.sep, "")


class CheckAlloc(unittest.TestCase):
    def test_clean_tree_passes(self):
        rc, out = run({
            "core/xalloc.c": "void *xmalloc(size_t n) { return malloc(n); }\n",
            "detect/a.c": "int f(void)\n{\n\tchar *p = xmalloc(4);\n\tchar *q = xstrdup(p);\n"
                          "\tchar *r = arena_strdup(a, p);\n\treturn be->malloc(3) != 0;\n}\n",
            "ingest/b.c": "\tchar *raw = malloc(ulen); /* sized by input: checked */\n",
            "http/c.c": "/* never malloc(n) here */\nconst char *s = \"calloc(1, 2)\"; // strdup(x)\n",
        })
        self.assertEqual((rc, out), (0, ""))

    def test_bare_calls_refused_by_line(self):
        cases = [("malloc", "p = malloc(8);"), ("calloc", "p = calloc(1, 8);"), ("realloc", "p = realloc(p, 8);"),
                 ("strdup", "s = strdup(t);"), ("strndup", "s = strndup(t, 3);")]
        for fn, stmt in cases:
            with self.subTest(fn=fn):
                rc, out = run({"detect/watch.c": "/* a */\nvoid f(void)\n{\n\t%s\n}\n" % stmt})
                self.assertEqual(rc, 1)
                self.assertIn("detect/watch.c:4: bare %s()" % fn, out)

    def test_marker_on_another_line_does_not_count(self):
        rc, out = run({"store/t.c": "/* sized by input: checked */\nchar *p = malloc(n);\n"})
        self.assertEqual(rc, 1)
        self.assertIn("store/t.c:2:", out)


if __name__ == "__main__":
    unittest.main()
