/*
 * Unit tests for the remedy engine (remedy/remedy.h) on a real control
 * store in a temp dir, with hooks that record what they are asked: a
 * trigger delivered twice acts once and a later one inside the cooldown is
 * refused and escalated; the global pause refuses and escalates; a failed
 * expect undoes the steps that ran, last first; a step in flight when the
 * engine stopped is not repeated after the restart unless it is
 * idempotent; a change freeze turns an auto run into a request for
 * approval; a follower sees every stored version of a run in order, and
 * nothing once it unsubscribed; the sections' checks name the field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "audit/docwrite.h"
#include "core/error.h"
#include "core/time.h"
#include "store/vdoc.h"
#include "remedy_fixture.h"

struct fixture {
	struct remedy_fixture x;
	char file[96];
	int notified, approvals; /* escalations; approval requests */
	int succeeded;           /* success notifications */
	char last_notice[512];
	bool probe_passes;
	bool probe_stale; /* its newest attempt is from before the steps ran */
};

static int notify_hook(void *ctx, const char *target, const char *event, const char *text, const char *incident,
		       const char *dedupe, struct buf *err)
{
	struct fixture *f = ctx;
	if (strcmp(event, "remediation")) { /* a success, for the record: never paged */
		assert_string_equal(event, "remediation-succeeded");
		assert_null(target);
		f->succeeded++;
		return 1;
	}
	f->notified++;
	snprintf(f->last_notice, sizeof(f->last_notice), "%s", text);
	return 1;
}

static int probe_hook(void *ctx, const char *service, const char *name, int64_t since_ns, bool *passing,
		      bool *checked)
{
	struct fixture *f = ctx;
	assert_true(since_ns > 0); /* asked about the attempts since the steps ran */
	*passing = f->probe_passes;
	*checked = !f->probe_stale;
	return 0;
}

static int approval_hook(void *ctx, const char *run, const char *requester, const char *rationale, int64_t ttl_ns,
			 char id[48], struct buf *err)
{
	struct fixture *f = ctx;
	snprintf(id, 48, "ap-%d", ++f->approvals);
	return 0;
}

static void engine_start(struct fixture *f, const char *policies_json, const char *section_json)
{
	struct remedy_hooks h = { .ctx = f, .notify = notify_hook, .probe_passing = probe_hook,
				  .approval_request = approval_hook };
	remedy_fixture_start(&f->x, &h, policies_json, section_json);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	remedy_fixture_open(&f->x, "/tmp/ooda-remedy");
	snprintf(f->file, sizeof(f->file), "%s/marks", f->x.dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	remedy_fixture_close(&f->x);
	free(f);
	return 0;
}

static void trigger(struct fixture *f, const char *incident, int64_t at)
{
	struct remedy_trigger t = { .kind = "incident", .ref = incident, .incident = incident, .service = "checkout",
				    .severity = "SEV2", .at_ns = at };
	remedy_trigger(f->x.r, &t);
	remedy_wait_idle(f->x.r);
}

/* The marks the steps appended, space-separated. */
static void marks(struct fixture *f, char *out, size_t n)
{
	out[0] = 0;
	FILE *fp = fopen(f->file, "r");
	if (!fp)
		return;
	char w[64];
	size_t len = 0;
	while (fscanf(fp, "%63s", w) == 1)
		len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "", w);
	fclose(fp);
}

static json_t *runs(struct fixture *f, const char *status)
{
	struct remedy_run_filter flt = { .status = status };
	return remedy_fixture_runs(&f->x, &flt);
}

/* A policy appending word to the marks file; extra is spliced into the policy object. */
static char *policy(struct fixture *f, const char *steps, const char *extra)
{
	char *p = malloc(4096);
	snprintf(p, 4096, "[{\"name\":\"fix\",\"when\":{\"service\":\"checkout\"},\"do\":%s%s}]", steps, extra);
	for (char *c; (c = strstr(p, "FILE"));) {
		char rest[4096];
		snprintf(rest, sizeof(rest), "%s", c + 4);
		snprintf(c, 4096 - (size_t)(c - p), "%s%s", f->file, rest);
	}
	return p;
}

#define APPEND(w) "{\"exec\":{\"argv\":[\"/bin/sh\",\"-c\",\"echo " w " >> FILE\"]}"
#define IRREV ",\"irreversible_ok\":true,\"rationale\":\"test\""

static void test_duplicate_and_cooldown(void **state)
{
	struct fixture *f = *state;
	char *p = policy(f, "[" APPEND("a") "}]", IRREV);
	engine_start(f, p, NULL);
	free(p);
	trigger(f, "INC-1", 1000);
	trigger(f, "INC-1", 1000); /* the same trigger again: the same idempotency key */
	char m[256];
	marks(f, m, sizeof(m));
	assert_string_equal(m, "a");
	json_t *all = runs(f, NULL);
	assert_int_equal(json_array_size(all), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "status")), "succeeded");
	trigger(f, "INC-2", 2000); /* another trigger inside the 10m default cooldown */
	marks(f, m, sizeof(m));
	assert_string_equal(m, "a");
	json_t *refused = runs(f, "refused");
	assert_int_equal(json_array_size(refused), 1);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(refused, 0), "reason")), "cooldown"));
	assert_int_equal(f->notified, 1);
	assert_non_null(strstr(f->last_notice, "cooldown"));
}

static void test_pause(void **state)
{
	struct fixture *f = *state;
	char *p = policy(f, "[" APPEND("a") "}]", IRREV ",\"guardrails\":{\"cooldown\":\"0s\"}");
	engine_start(f, p, NULL);
	free(p);
	struct buf err = BUF_INIT;
	assert_int_equal(remedy_pause(f->x.r, true, "token:alice", "", &err), OODA_EINVAL); /* a reason is required */
	assert_int_equal(remedy_pause(f->x.r, true, "token:alice", "drill", &err), 0);
	trigger(f, "INC-1", 1000);
	char m[256];
	marks(f, m, sizeof(m));
	assert_string_equal(m, "");
	json_t *refused = runs(f, "refused");
	assert_int_equal(json_array_size(refused), 1);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(refused, 0), "reason")), "paused by token:alice"));
	assert_int_equal(remedy_pause(f->x.r, false, "token:alice", NULL, &err), 0);
	trigger(f, "INC-2", 2000);
	marks(f, m, sizeof(m));
	assert_string_equal(m, "a");
	buf_release(&err);
}

/* What a follower (remedy_subscribe) saw: "event status step-index/step-status" per stored version. */
struct seen {
	pthread_mutex_t mu;
	char log[2048];
	size_t len;
	int64_t last_version;
	bool in_order;
};

static void follower(void *ctx, const struct remedy_run_event *ev)
{
	struct seen *s = ctx;
	json_t *j = remedy_run_event_json(ev);
	assert_non_null(j);
	json_t *st = json_object_get(j, "step");
	pthread_mutex_lock(&s->mu);
	s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len, "%s%s %s", s->len ? "; " : "",
				   json_string_value(json_object_get(j, "event")),
				   json_string_value(json_object_get(j, "status")));
	if (st)
		s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len, " step %d %s",
					   (int)json_integer_value(json_object_get(st, "index")),
					   json_string_value(json_object_get(st, "status")));
	int64_t v = json_integer_value(json_object_get(j, "version"));
	if (v != s->last_version + 1)
		s->in_order = false;
	s->last_version = v;
	assert_null(json_object_get(j, "output")); /* a step's output stays in the run, off the feed */
	pthread_mutex_unlock(&s->mu);
	json_decref(j);
}

static void test_failed_expect_undoes_in_reverse(void **state)
{
	struct fixture *f = *state;
	char *p = policy(f, "[" APPEND("do0") ",\"undo\":" APPEND("undo0") "}}," APPEND("do1") ",\"undo\":" APPEND("undo1") "}}," APPEND("do2") ",\"idempotent\":true,\"undo\":" APPEND("undo2") "}}]",
			 ",\"expect\":{\"probe\":{\"service\":\"checkout\",\"name\":\"up\"},\"timeout\":\"100ms\"}");
	engine_start(f, p, NULL);
	free(p);
	struct seen s = { .in_order = true };
	pthread_mutex_init(&s.mu, NULL);
	assert_int_equal(remedy_subscribe(f->x.r, follower, &s), 0);
	f->probe_passes = false;
	trigger(f, "INC-1", 1000);
	char m[256];
	marks(f, m, sizeof(m));
	assert_string_equal(m, "do0 do1 do2 undo2 undo1 undo0");
	/* each undo names the step it undid, last first */
	assert_non_null(strstr(s.log, "run.undo undoing; undo.ok undoing step 2 ok; undo.ok undoing step 1 ok; "
				      "undo.ok undoing step 0 ok; run.undone undone"));
	assert_true(s.in_order);
	remedy_unsubscribe(f->x.r, follower, &s);
	pthread_mutex_destroy(&s.mu);
	json_t *undone = runs(f, "undone");
	assert_int_equal(json_array_size(undone), 1);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(undone, 0), "reason")), "probe checkout/up failing"));
	assert_int_equal(f->notified, 1); /* escalated once undone */
}

/*
 * One step (undo: undo0) with expect probe checkout/up within timeout, the
 * fake probe passing or not and its newest attempt fresh or not; triggered
 * once, the steps' marks into m.
 */
static void probe_expect_run(struct fixture *f, const char *timeout, bool passes, bool stale, char *m, size_t n)
{
	char expect[160];
	snprintf(expect, sizeof expect,
		 ",\"expect\":{\"probe\":{\"service\":\"checkout\",\"name\":\"up\"},\"timeout\":\"%s\"}", timeout);
	char *p = policy(f, "[" APPEND("do0") ",\"undo\":" APPEND("undo0") "}}]", expect);
	engine_start(f, p, NULL);
	free(p);
	f->probe_passes = passes;
	f->probe_stale = stale;
	trigger(f, "INC-1", 1000);
	marks(f, m, n);
}

static void test_expect_holds(void **state)
{
	struct fixture *f = *state;
	char m[256];
	probe_expect_run(f, "5s", true, false, m, sizeof(m));
	assert_string_equal(m, "do0");
	assert_int_equal(json_array_size(runs(f, "succeeded")), 1);
	assert_int_equal(f->notified, 0);
	assert_int_equal(f->succeeded, 1);
}

/* A probe passing by an attempt from before the steps ran proves nothing: the run waits, then is undone. */
static void test_expect_needs_a_fresh_probe(void **state)
{
	struct fixture *f = *state;
	char m[256];
	probe_expect_run(f, "100ms", true, true, m, sizeof(m));
	assert_string_equal(m, "do0 undo0");
	assert_int_equal(json_array_size(runs(f, "succeeded")), 0);
	json_t *undone = runs(f, "undone");
	assert_int_equal(json_array_size(undone), 1);
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(undone, 0), "reason")),
			       "probe checkout/up not attempted since the steps ran"));
}

/* Waits (yielding, bounded) until the first step of the only run is running and has left its mark. */
static void wait_step_running(struct fixture *f)
{
	int64_t deadline = ooda_mono_ns() + 10 * OODA_NS_PER_SEC;
	char once[128];
	snprintf(once, sizeof(once), "%s.once", f->file);
	while (ooda_mono_ns() < deadline) {
		json_t *step = json_array_get(json_object_get(json_array_get(runs(f, NULL), 0), "steps"), 0);
		const char *st = json_string_value(json_object_get(step, "status"));
		if (st && !strcmp(st, "running") && access(once, F_OK) == 0)
			return;
		sched_yield();
	}
	fail_msg("the step never started");
}

static void restart_mid_step(void **state, bool idempotent, const char *want_status, const char *want_marks)
{
	struct fixture *f = *state;
	/* the first attempt leaves a mark and hangs; an attempt after the restart finds the mark and ends at once */
	char steps[512];
	snprintf(steps, sizeof(steps),
		 "[{\"exec\":{\"argv\":[\"/bin/sh\",\"-c\",\"test -e FILE.once || { touch FILE.once; exec sleep 30; }\"]},"
		 "\"idempotent\":%s}," APPEND("after") "}]",
		 idempotent ? "true" : "false");
	char *p = policy(f, steps, IRREV);
	engine_start(f, p, NULL);
	struct remedy_trigger t = { .kind = "incident", .ref = "INC-1", .incident = "INC-1", .service = "checkout", .at_ns = 1000 };
	remedy_trigger(f->x.r, &t);
	wait_step_running(f);
	remedy_destroy(f->x.r); /* a stop in the middle of the step: it stays running in the store */
	f->x.r = NULL;
	engine_start(f, p, NULL);
	free(p);
	remedy_wait_idle(f->x.r);
	json_t *all = runs(f, NULL);
	assert_int_equal(json_array_size(all), 1);
	json_t *run = json_array_get(all, 0);
	assert_string_equal(json_string_value(json_object_get(run, "status")), want_status);
	char m[256];
	marks(f, m, sizeof(m));
	assert_string_equal(m, want_marks);
	trigger(f, "INC-1", 1000); /* the trigger delivered again after the restart */
	assert_int_equal(json_array_size(runs(f, NULL)), 1);
}

static void test_resume_not_idempotent(void **state)
{
	restart_mid_step(state, false, "failed", "");
	struct fixture *f = *state;
	json_t *run = json_array_get(runs(f, "failed"), 0);
	assert_non_null(strstr(json_string_value(json_object_get(run, "reason")), "not idempotent: not repeated"));
}

static void test_resume_idempotent(void **state)
{
	restart_mid_step(state, true, "succeeded", "after");
	struct fixture *f = *state;
	json_t *step = json_array_get(json_object_get(json_array_get(runs(f, NULL), 0), "steps"), 0);
	assert_true(json_is_true(json_object_get(step, "resumed")));
}

static void test_freeze_needs_approval(void **state)
{
	struct fixture *f = *state;
	char *p = policy(f, "[" APPEND("a") "}]", IRREV);
	char sec[256], from[40], to[40];
	ooda_time_format(ooda_now_ns() - 3600 * OODA_NS_PER_SEC, from, sizeof(from));
	ooda_time_format(ooda_now_ns() + 3600 * OODA_NS_PER_SEC, to, sizeof(to));
	snprintf(sec, sizeof(sec), "{\"freezes\":[{\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"release week\"}]}", from, to);
	engine_start(f, p, sec);
	free(p);
	trigger(f, "INC-1", 1000);
	char m[256];
	marks(f, m, sizeof(m));
	assert_string_equal(m, "");
	json_t *w = runs(f, "awaiting-approval");
	assert_int_equal(json_array_size(w), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(w, 0), "approval")), "ap-1");
	struct buf err = BUF_INIT;
	const char *id = json_string_value(json_object_get(json_array_get(w, 0), "id"));
	assert_int_equal(remedy_run_approved(f->x.r, id, true, "token:bob", "ok", &err), 0);
	remedy_wait_idle(f->x.r);
	marks(f, m, sizeof(m));
	assert_string_equal(m, "a");
	assert_int_equal(remedy_run_approved(f->x.r, id, true, "token:bob", "again", &err), OODA_ECONFLICT);
	buf_release(&err);
}

static void test_cancel_and_reject(void **state)
{
	struct fixture *f = *state;
	char *p = policy(f, "[" APPEND("a") "}]", ",\"mode\":\"approve\",\"guardrails\":{\"cooldown\":\"0s\",\"max_concurrent\":4}");
	engine_start(f, p, NULL);
	free(p);
	trigger(f, "INC-1", 1000);
	trigger(f, "INC-2", 2000);
	json_t *w = runs(f, "awaiting-approval");
	assert_int_equal(json_array_size(w), 2);
	const char *a = json_string_value(json_object_get(json_array_get(w, 0), "id"));
	const char *b = json_string_value(json_object_get(json_array_get(w, 1), "id"));
	struct buf err = BUF_INIT;
	assert_int_equal(remedy_run_cancel(f->x.r, a, "token:carol", "not now", &err), 0);
	assert_int_equal(remedy_run_cancel(f->x.r, a, "token:carol", "again", &err), OODA_ECONFLICT);
	assert_int_equal(remedy_run_approved(f->x.r, b, false, "token:bob", "no", &err), 0);
	assert_int_equal(remedy_run_cancel(f->x.r, b, "token:carol", "", &err), OODA_ECONFLICT);
	assert_int_equal(remedy_run_cancel(f->x.r, "run-nope", "token:carol", "", &err), OODA_ENOTFOUND);
	remedy_wait_idle(f->x.r);
	char m[256];
	marks(f, m, sizeof(m));
	assert_string_equal(m, "");
	assert_int_equal(json_array_size(runs(f, "cancelled")), 1);
	json_t *rj = runs(f, "rejected");
	assert_int_equal(json_array_size(rj), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rj, 0), "rejected_by")), "token:bob");
	buf_release(&err);
}

static void test_run_events(void **state)
{
	struct fixture *f = *state;
	char *p = policy(f, "[" APPEND("a") "}," APPEND("b") "}]", IRREV ",\"mode\":\"approve\",\"guardrails\":{\"cooldown\":\"0s\"}");
	engine_start(f, p, NULL);
	free(p);
	struct seen s = { .in_order = true };
	pthread_mutex_init(&s.mu, NULL);
	assert_int_equal(remedy_subscribe(f->x.r, follower, &s), 0);
	trigger(f, "INC-1", 1000);
	json_t *w = runs(f, "awaiting-approval");
	assert_int_equal(json_array_size(w), 1);
	struct buf err = BUF_INIT;
	assert_int_equal(remedy_run_approved(f->x.r, json_string_value(json_object_get(json_array_get(w, 0), "id")), true,
					     "token:bob", "go", &err), 0);
	remedy_wait_idle(f->x.r);
	assert_string_equal(s.log, "run.create awaiting-approval; run.approve running; "
				   "step.start running step 0 running; step.ok running step 0 ok; "
				   "step.start running step 1 running; step.ok running step 1 ok; "
				   "run.verify verifying; run.succeeded succeeded");
	assert_true(s.in_order);
	/* gone: the next run is not seen, and the limit holds */
	remedy_unsubscribe(f->x.r, follower, &s);
	size_t before = s.len;
	trigger(f, "INC-2", 2000);
	assert_int_equal(s.len, before);
	for (int i = 0; i < REMEDY_MAX_SUBSCRIBERS; i++)
		assert_int_equal(remedy_subscribe(f->x.r, follower, &s), 0);
	assert_int_equal(remedy_subscribe(f->x.r, follower, &s), OODA_ELIMIT);
	for (int i = 0; i < REMEDY_MAX_SUBSCRIBERS; i++)
		remedy_unsubscribe(f->x.r, follower, &s);
	pthread_mutex_destroy(&s.mu);
	buf_release(&err);
}

static void test_section_checks(void **state)
{
	(void)state;
	static const struct {
		const char *policies, *section, *err_has;
	} cases[] = {
		{ "[{\"name\":\"a\",\"when\":{\"service\":\"x\"},\"do\":[{\"wait\":\"1s\"}]},"
		  "{\"name\":\"a\",\"when\":{\"service\":\"x\"},\"do\":[{\"wait\":\"1s\"}]}]", NULL, "policies[1].name" },
		{ "{\"name\":\"a\"}", NULL, "policies: a list" },
		{ "[{\"name\":\"a\",\"when\":{\"service\":\"x\"},\"do\":[{\"exec\":\"rm -rf /\"}],\"mode\":\"approve\"}]", NULL,
		  "policies[0].do[0].exec.argv" },
		{ "[{\"name\":\"a\",\"when\":{\"probe\":{\"service\":\"x\"}},\"do\":[{\"wait\":\"1s\"}]}]", NULL,
		  "policies[0].when.probe" },
		{ "[{\"name\":\"a\",\"when\":{\"probe\":{\"service\":\"x\",\"name\":\"y\"},\"alert\":\"z\"},\"do\":[{\"wait\":\"1s\"}]}]",
		  NULL, "an alert or a probe, not both" },
		{ NULL, "{\"http_allow_hosts\":\"x\"}", "remedy.http_allow_hosts" },
		{ NULL, "{\"freezes\":[{\"from\":\"2026-01-02T00:00:00Z\",\"to\":\"2026-01-01T00:00:00Z\"}]}", "remedy.freezes[0]" },
		{ NULL, "{\"bogus\":1}", "remedy.bogus" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		int rc = cases[i].policies ? remedy_policies_check(cases[i].policies, &err)
					   : remedy_section_check(cases[i].section, &err);
		assert_int_equal(rc, OODA_EINVAL);
		if (!strstr(err.data, cases[i].err_has))
			fail_msg("case %zu: %s lacks %s", i, err.data, cases[i].err_has);
		buf_release(&err);
	}
	struct buf err = BUF_INIT;
	/* the policies check cannot see the allow list: hosts are checked at start and reload */
	assert_int_equal(remedy_policies_check("[{\"name\":\"a\",\"when\":{\"service\":\"x\"},\"do\":[{\"http\":{\"url\":"
					       "\"http://h.example/x\"},\"idempotent\":true}],\"mode\":\"approve\"}]",
					       &err),
			 0);
	assert_int_equal(remedy_policies_check(NULL, &err), 0);
	buf_release(&err);
}

/* Stores a run document as the engine would (only the fields the list and the retention read). */
static void run_put(struct fixture *f, int n, const char *status)
{
	char id[32], body[256];
	snprintf(id, sizeof(id), "run-%02d", n);
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"policy\":\"p\",\"status\":\"%s\",\"created_unix_nano\":%d000}", id,
		 status, n);
	struct vdoc_write w = { .kind = "remedy-run", .key = id, .body = body, .body_len = strlen(body),
				.status = status, .expect_version = -1, .actor = "policy:p@v1", .rationale = "test",
				.action = "remedy.run.create", .target = id };
	struct buf err = BUF_INIT;
	assert_int_equal(vdoc_put(f->x.s, &f->x.sg, &w, &err), 0);
	buf_release(&err);
}

/* The ids of one page, space-separated, and its cursors ("-" for null). */
static void page(struct fixture *f, const struct remedy_run_filter *q, char *ids, size_t cap, char *before,
		 char *after)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(remedy_runs_json(f->x.r, q, &out, &err), 0);
	json_t *j = json_loads(out.data, 0, NULL);
	assert_non_null(j);
	size_t i, used = 0;
	json_t *run;
	ids[0] = 0;
	json_array_foreach(json_object_get(j, "runs"), i, run) {
		assert_null(json_object_get(run, "plan"));
		used += (size_t)snprintf(ids + used, cap - used, "%s%s", used ? " " : "",
					 json_string_value(json_object_get(run, "id")));
	}
	const char *b = json_string_value(json_object_get(j, "before")), *a = json_string_value(json_object_get(j, "after"));
	snprintf(before, 32, "%s", b ? b : "-");
	snprintf(after, 32, "%s", a ? a : "-");
	json_decref(j);
	buf_release(&out);
	buf_release(&err);
}

static void test_runs_pages_and_retention(void **state)
{
	struct fixture *f = *state;
	struct remedy_options o = { .store = f->x.s, .signer = &f->x.sg };
	struct buf err = BUF_INIT;
	assert_int_equal(remedy_create(&o, &f->x.r, &err), 0);
	static const char *const states[] = { "succeeded", "running", "failed", "awaiting-approval", "refused",
					      "dry-run", "pending" };
	for (int i = 0; i < 7; i++)
		run_put(f, i + 1, states[i]);

	/* pages of 3, newest first, each older page by the last one's cursor */
	char ids[256], before[32], after[32];
	struct remedy_run_filter q = { .limit = 3 };
	page(f, &q, ids, sizeof(ids), before, after);
	assert_string_equal(ids, "run-07 run-06 run-05");
	assert_string_equal(before, "run-05");
	assert_string_equal(after, "-");
	q.before = "run-05";
	page(f, &q, ids, sizeof(ids), before, after);
	assert_string_equal(ids, "run-04 run-03 run-02");
	assert_string_equal(before, "run-02");
	assert_string_equal(after, "run-04");
	q.before = "run-02";
	page(f, &q, ids, sizeof(ids), before, after);
	assert_string_equal(ids, "run-01");
	assert_string_equal(before, "-");
	/* back again: the newer runs nearest the cursor */
	q = (struct remedy_run_filter){ .limit = 3, .after = "run-01" };
	page(f, &q, ids, sizeof(ids), before, after);
	assert_string_equal(ids, "run-04 run-03 run-02");
	assert_string_equal(after, "run-04");
	/* a filter pages the same way */
	q = (struct remedy_run_filter){ .limit = 1, .status = "failed" };
	page(f, &q, ids, sizeof(ids), before, after);
	assert_string_equal(ids, "run-03");
	assert_string_equal(before, "-");
	/* a cursor that names no run, or two cursors, is refused naming the field */
	struct buf out = BUF_INIT;
	q = (struct remedy_run_filter){ .before = "run-99" };
	assert_int_equal(remedy_runs_json(f->x.r, &q, &out, &err), OODA_EINVAL);
	assert_non_null(strstr(err.data, "before"));
	buf_reset(&err);
	q = (struct remedy_run_filter){ .before = "run-01", .after = "run-02" };
	assert_int_equal(remedy_runs_json(f->x.r, &q, &out, &err), OODA_EINVAL);
	buf_reset(&err);

	/* the count: only the 2 newest finished runs stay; runs under way are not counted */
	size_t n = 0;
	remedy_set_retention(f->x.r, &(struct remedy_retention){ .max_finished = 2 });
	assert_int_equal(remedy_runs_prune(f->x.r, ooda_now_ns(), &n, &err), 0);
	assert_int_equal(n, 2); /* run-03 (failed) and run-01 (succeeded) */
	q = (struct remedy_run_filter){ 0 };
	page(f, &q, ids, sizeof(ids), before, after);
	assert_string_equal(ids, "run-07 run-06 run-05 run-04 run-02");
	/* the age: 100 days on, every finished run goes and the ones under way stay */
	remedy_set_retention(f->x.r, &(struct remedy_retention){ .max_age_ns = 90 * 86400 * INT64_C(1000000000) });
	assert_int_equal(remedy_runs_prune(f->x.r, ooda_now_ns(), &n, &err), 0);
	assert_int_equal(n, 0); /* nothing is 90 days old yet */
	assert_int_equal(remedy_runs_prune(f->x.r, ooda_now_ns() + 100 * 86400 * INT64_C(1000000000), &n, &err), 0);
	assert_int_equal(n, 2);
	page(f, &q, ids, sizeof(ids), before, after);
	assert_string_equal(ids, "run-07 run-04 run-02");
	/* every version went, not just the latest */
	struct vdoc d;
	assert_int_equal(vdoc_get(f->x.s, "remedy-run", "run-06", 1, &d, &err), OODA_ENOTFOUND);
	buf_release(&out);
	buf_release(&err);
}

/* The engine tick applies the retention: a round when due, the next one REMEDY_PRUNE_EVERY_NS later. */
static void test_tick_prunes_when_due(void **state)
{
	struct fixture *f = *state;
	struct remedy_hooks h = { .ctx = f, .notify = notify_hook };
	remedy_fixture_start(&f->x, &h, "[]", NULL);
	run_put(f, 1, "succeeded");
	run_put(f, 2, "rejected");
	struct remedy_run_filter q = { 0 };
	assert_int_equal(json_array_size(remedy_fixture_runs(&f->x, &q)), 2);
	int64_t later = ooda_now_ns() + 100 * 86400 * INT64_C(1000000000);
	remedy_tick(f->x.r, later); /* no retention set: nothing goes */
	assert_int_equal(json_array_size(remedy_fixture_runs(&f->x, &q)), 2);
	remedy_set_retention(f->x.r, &(struct remedy_retention){ .max_age_ns = 90 * 86400 * INT64_C(1000000000) });
	remedy_tick(f->x.r, later);
	assert_int_equal(json_array_size(remedy_fixture_runs(&f->x, &q)), 0);
	run_put(f, 3, "cancelled");
	remedy_tick(f->x.r, later + 1000000000); /* the next round is not due yet */
	assert_int_equal(json_array_size(remedy_fixture_runs(&f->x, &q)), 1);
	remedy_tick(f->x.r, later + REMEDY_PRUNE_EVERY_NS);
	assert_int_equal(json_array_size(remedy_fixture_runs(&f->x, &q)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_duplicate_and_cooldown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_expect_undoes_in_reverse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_needs_a_fresh_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_not_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_needs_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_events, setup, teardown),
		cmocka_unit_test(test_section_checks),
		cmocka_unit_test_setup_teardown(test_runs_pages_and_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_prunes_when_due, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
