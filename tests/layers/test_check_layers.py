#!/usr/bin/env python3
"""scripts/check-layers on small made-up trees: it must refuse an include of a
higher layer, of a sibling not in its table, of an unknown folder, and a cycle,
each named by file:line, and accept a tree whose includes all point down."""
import os
import subprocess
import sys
import tempfile
import unittest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "check-layers")


def tree(root, files):
    src = os.path.join(root, "src")
    for rel, text in files.items():
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return src


def run(src):
    p = subprocess.run([sys.executable, CHECK, src], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout


class CheckLayers(unittest.TestCase):
    def check(self, files):
        with tempfile.TemporaryDirectory() as d:
            return run(tree(d, files))

    def test_downward_tree_passes(self):
        rc, out = self.check({
            "core/buf.h": "#pragma once\n",
            "model/record.h": '#include "core/buf.h"\n',
            "store/tblock.h": '#include "model/record.h"\n#include "tstore.h"\n',
            "http/server.c": '#include "audit/audit.h"\n',
            "audit/audit.h": '#include "store/store.h"\n',
            "detect/alerts.c": '#include "audit/docwrite.h"\n#include <stdio.h>\n',
            "cli/main.c": '#include "api/api.h"\n#include "cli/cli.h"\n',
            "cli/cli.h": '#include "core/buf.h"\n',
        })
        self.assertEqual(rc, 0, out)

    def test_upward_include_is_named(self):
        rc, out = self.check({
            "model/record.h": "\n",
            "store/tblock.h": '#include "core/buf.h"\n#include "ingest/record.h"\n',
        })
        self.assertEqual(rc, 1)
        self.assertIn("tblock.h:2: store (layer 2) includes \"ingest/record.h\" of a higher layer", out)

    def test_sibling_include_is_refused(self):
        rc, out = self.check({"query/metrics.h": '#include "ingest/live.h"\n'})
        self.assertEqual(rc, 1)
        self.assertIn("metrics.h:1: query includes \"ingest/live.h\" of its sibling ingest", out)

    def test_allowed_sibling_passes(self):
        rc, out = self.check({"http/auth.c": '#include "audit/audit.h"\n'})
        self.assertEqual(rc, 0, out)

    def test_unknown_folder_is_refused(self):
        rc, out = self.check({"api/x.c": '#include "gadgets/x.h"\n', "gadgets/x.h": "\n"})
        self.assertEqual(rc, 1)
        self.assertIn("x.c:1: includes \"gadgets/x.h\": folder 'gadgets' is not in the layer table", out)
        self.assertIn("folder 'gadgets' is not in the layer table of scripts/check-layers", out)

    def test_cycle_is_named(self):
        rc, out = self.check({
            "ingest/alertmanager.h": '#include "detect/signal.h"\n',
            "detect/alerts.h": '#include "ingest/live.h"\n',
        })
        self.assertEqual(rc, 1)
        self.assertIn("cycle between folders: detect -> ingest (", out)
        self.assertIn("alerts.h:1), ingest -> detect (", out)

    def test_cli_folder_and_no_root_files(self):
        rc, out = self.check({"cli/cmd_x.c": '#include "api/api.h"\n#include "cli/cli.h"\n', "cli/cli.h": "\n",
                              "api/api.h": '#include "core/buf.h"\n'})
        self.assertEqual(rc, 0, out)
        rc, out = self.check({"main.c": '#include "core/buf.h"\n'})
        self.assertEqual(rc, 1)
        self.assertIn("main.c:1: file is in no layer", out)

    def test_store_backend_is_private_to_store(self):
        rc, out = self.check({
            "store/store_backend.h": '#include "store/store.h"\n',
            "store/store_ops.c": '#include "store/store_backend.h"\nint f(void) { return store_backend(s)->x(store_impl(s)); }\n',
            "store/vdoc.c": '#include "store/store_backend.h"\n',
            "audit/audit.c": '/* once: store_backend(s)->audit_last(...) */\n#include "store/store.h"\n'
                             '\tconst struct store_backend *be;\n\tint rc = store_audit_last(s, &last, h);\n',
        })
        self.assertEqual(rc, 0, out)

    def test_store_backend_outside_store_is_named(self):
        rc, out = self.check({
            "store/store_backend.h": "\n",
            "http/auth.c": '#include "store/store_backend.h"\n',
            "api/tokens.c": '\tint rc = store_backend(d->store)->token_list(store_impl(d->store), f, &l);\n',
        })
        self.assertEqual(rc, 1)
        self.assertIn('auth.c:1: includes "store/store_backend.h", private to src/store/', out)
        self.assertIn("tokens.c:1: calls store_backend(), private to src/store/", out)
        self.assertIn("tokens.c:1: calls store_impl(), private to src/store/", out)

    def test_private_only_folders_get_the_private_check_alone(self):
        with tempfile.TemporaryDirectory() as d:
            src = tree(d, {"core/buf.h": "\n"})
            tests = os.path.join(d, "tests", "unit")
            os.makedirs(tests)
            with open(os.path.join(tests, "logclass.c"), "w") as f:
                f.write('#include "detect/logclass.h"\n\tstore_backend(st)->begin(store_impl(st));\n')
            p = subprocess.run([sys.executable, CHECK, src, "--private-only", os.path.join(d, "tests")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn("logclass.c:2: calls store_backend(), private to src/store/", p.stdout)
            self.assertNotIn("not in the layer table", p.stdout)


if __name__ == "__main__":
    unittest.main()
