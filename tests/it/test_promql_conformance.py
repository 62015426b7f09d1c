"""PromQL conformance: the same remote-written data queried through
Prometheus 2.42 and through ooda answers the same (promconf.REPRESENTATIVE,
about forty queries covering every function, subqueries, @ and offset),
and /api/v1/format_query writes each query as Prometheus does.
The full set runs in bench/promql/conformance and writes the table in
docs/conformance.md."""
import os
import sys

from oodait import Server, check, done
import promconf

if not os.path.exists(promconf.PROMETHEUS):
    print("SKIP: no prometheus binary at", promconf.PROMETHEUS)
    sys.exit(77)

s = Server()
conf = None
try:
    conf = promconf.Conformance(s.url)
    for q, mode in promconf.REPRESENTATIVE:
        diff = conf.run(q, mode)
        check(diff is None, f"{q} [{mode}]: {diff}")
    print(f"{len(promconf.REPRESENTATIVE)} queries compared")
    # /api/v1/format_query writes each as Prometheus does
    for q in [q for q, _ in promconf.REPRESENTATIVE] + promconf.FORMAT_EXTRA:
        diff = conf.format_diff(q)
        check(diff is None, f"format_query {q}: {diff}")
finally:
    if conf:
        conf.close()
    s.stop()
    s.cleanup()
done()
