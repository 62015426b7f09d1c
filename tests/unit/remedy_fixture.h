/*
 * The remedy engine unit tests' shared fixture (remedy_engine.c,
 * remedy_actions.c): a control store and audit signer in a temp dir, the
 * engine started on it with the test's hooks, and the runs as the API lists
 * them. A test's own fixture embeds it as `x`.
 */
#ifndef OODA_TESTS_REMEDY_FIXTURE_H
#define OODA_TESTS_REMEDY_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "remedy/remedy.h"
#include "store/store.h"

struct remedy_fixture {
	char dir[64];
	struct store *s;
	struct audit_signer sg;
	struct remedy *r;
	json_t *held; /* JSON handed to the test, freed at close */
};

/* A store and a signer in a new temp dir prefix-XXXXXX. */
static void remedy_fixture_open(struct remedy_fixture *x, const char *prefix)
{
	snprintf(x->dir, sizeof(x->dir), "%s-XXXXXX", prefix);
	assert_non_null(mkdtemp(x->dir));
	struct buf err = BUF_INIT;
	assert_int_equal(store_open(x->dir, 0, &x->s, &err), 0);
	assert_int_equal(audit_signer_load(&x->sg, x->dir, 100, &err), 0);
	buf_release(&err);
	x->held = json_array();
}

/* Stops the engine (if started), closes the store, removes the dir. */
static void remedy_fixture_close(struct remedy_fixture *x)
{
	remedy_destroy(x->r);
	store_close(x->s);
	json_decref(x->held);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	assert_int_equal(system(cmd), 0);
}

/* Starts the engine with hooks (expect checked every 10 ms), the policies (a JSON list) and remedy: (NULL: none). */
static void remedy_fixture_start(struct remedy_fixture *x, const struct remedy_hooks *hooks, const char *policies_json,
				 const char *section_json)
{
	struct remedy_options o = { .store = x->s, .signer = &x->sg, .expect_poll_ns = 10 * 1000000, .hooks = *hooks };
	struct buf err = BUF_INIT;
	assert_int_equal(remedy_create(&o, &x->r, &err), 0);
	json_t *p = json_loads(policies_json, 0, NULL), *sec = section_json ? json_loads(section_json, 0, NULL) : NULL;
	assert_non_null(p);
	int rc = remedy_configure(x->r, p, sec, true, NULL, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.data);
	assert_int_equal(rc, 0);
	assert_int_equal(remedy_start(x->r, &err), 0);
	json_decref(p);
	json_decref(sec);
	buf_release(&err);
}

/* The runs GET /api/v1/runs lists for flt, newest first (held: freed at close). */
static json_t *remedy_fixture_runs(struct remedy_fixture *x, const struct remedy_run_filter *flt)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(remedy_runs_json(x->r, flt, &out, &err), 0);
	json_t *o = json_loads(out.data, 0, NULL), *j = json_object_get(o, "runs");
	assert_non_null(j);
	json_array_append(x->held, j);
	json_decref(o);
	buf_release(&out);
	buf_release(&err);
	return j;
}

#endif
