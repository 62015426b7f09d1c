/*
 * The rollback planner and its durable runs.
 *
 * A plan inverts one deploy D against the deploy P before it (same service
 * and environment): restore P's flag snapshot for the service's flags
 * (metadata.service; flags of the service created since are disabled, not
 * deleted; other services' flags are left alone), restore P's config version, run D's new
 * migrations down in reverse order (refused when one is irreversible unless
 * explicitly allowed), redeploy P's artifact through the configured hook,
 * record the rollback as a deploy of its own (so a rollback can itself be
 * rolled back), and verify it.
 *
 * A run persists after every step. Each step first checks whether its
 * effect is already there (so a step interrupted by a crash is not done
 * twice when the check can tell), then acts, then records itself done:
 *
 *      rollback_start ──> running ──step ok──> running ──last step──> done
 *                            │  ^                                     
 *                    crash   │  └── change_start (resume) 
 *                            └──step fails──> failed
 *
 * Hooks get OODA_RUN_ID and OODA_STEP so that they can deduplicate too.
 */
#include "change/change.h"
#include "change/rollout.h"
#include "audit/docwrite.h"
#include "core/error.h"
#include "core/log.h"
#include "core/spawn.h"
#include "core/time.h"
#include "core/worker.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- planning ----------------------------------------------------------- */

static json_t *migration_of(struct change *c, const char *service, const char *id)
{
	char key[300];
	snprintf(key, sizeof(key), "%s/%s", service, id);
	struct vdoc d;
	struct buf ignore = BUF_INIT;
	json_t *m = NULL;
	if (!vdoc_get(c->store, "migration", key, 0, &d, &ignore))
		m = json_loadb(d.body, d.body_len, 0, NULL);
	vdoc_release(&d);
	buf_release(&ignore);
	return m;
}

static bool in_array(const json_t *a, const char *s)
{
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x)
		if (json_is_string(x) && !strcmp(json_string_value(x), s))
			return true;
	return false;
}

/*
 * Would the plan restore a flag a flag.change rule protects? A deploy
 * rollback is then filed for approval like any other change of that flag.
 * Disabling is not asked about: it is what a kill switch does.
 */
static bool plan_touches_protected_flag(struct change *c, const json_t *plan, int64_t *exp)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(plan, "steps"), i, s) {
		if (strcmp(json_string_value(json_object_get(s, "type")), "flags"))
			continue;
		const char *env = json_string_value(json_object_get(s, "env"));
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(s, "restore"), k, v) {
			json_t *before = flagstore_def(c->store, env, k, 0), *after = flagstore_def(c->store, env, k, json_integer_value(v));
			bool hit = approval_flag_protected(c, env, before, after, exp);
			json_decref(before);
			json_decref(after);
			if (hit)
				return true;
		}
	}
	return false;
}

/* Does flag KEY (at version, 0 = current) belong to service (metadata.service)? */
static bool flag_of_service(struct change *c, const char *env, const char *key, int64_t version, const char *service)
{
	char k[400];
	snprintf(k, sizeof(k), "%s/%s", env, key);
	struct vdoc d;
	struct buf ignore = BUF_INIT;
	bool yes = false;
	if (!vdoc_get(c->store, "flag", k, version, &d, &ignore) && !d.deleted) {
		json_t *def = json_loadb(d.body, d.body_len, 0, NULL);
		const char *s = json_string_value(json_object_get(json_object_get(def, "metadata"), "service"));
		yes = s && !strcmp(s, service);
		json_decref(def);
	}
	vdoc_release(&d);
	buf_release(&ignore);
	return yes;
}

int rollback_plan(struct change *c, const char *deploy_id, bool allow_irreversible, json_t **out, struct buf *err)
{
	json_t *d, *p = NULL;
	int rc = deploy_get(c, deploy_id, &d, err);
	if (rc)
		return rc;
	const char *prev = json_string_value(json_object_get(d, "previous"));
	if (!prev) {
		buf_addf(err, "deploy %s is the first of %s in %s: there is no earlier version to roll back to", deploy_id,
			 json_string_value(json_object_get(d, "service")), json_string_value(json_object_get(d, "environment")));
		json_decref(d);
		return OODA_EPRECOND;
	}
	if ((rc = deploy_get(c, prev, &p, err))) {
		json_decref(d);
		return rc;
	}
	const char *service = json_string_value(json_object_get(d, "service"));
	const char *env = json_string_value(json_object_get(d, "environment"));
	json_t *steps = json_array();
	bool blocked = false;
	char reason[400] = "";

	/* 1. the service's flags (metadata.service) back to P's snapshot */
	json_t *now_flags = NULL;
	struct buf ferr = BUF_INIT;
	flagstore_snapshot(c->flags, env, &now_flags, &ferr);
	buf_release(&ferr);
	json_t *restore = json_object(), *disable = json_array();
	const char *k;
	json_t *v;
	json_t *pflags = json_object_get(p, "flags");
	json_object_foreach(pflags, k, v)
		if (!json_equal(json_object_get(now_flags, k), v) && flag_of_service(c, env, k, json_integer_value(v), service))
			json_object_set(restore, k, v);
	json_object_foreach(now_flags, k, v)
		if (!json_object_get(pflags, k) && flag_of_service(c, env, k, 0, service))
			json_array_append_new(disable, json_string(k));
	if (json_object_size(restore) || json_array_size(disable))
		json_array_append_new(steps, json_pack("{s:s, s:s, s:o, s:o}", "type", "flags", "env", env, "restore",
						       restore, "disable", disable));
	else {
		json_decref(restore);
		json_decref(disable);
	}
	json_decref(now_flags);

	/* 2. config version */
	json_int_t pcfg = json_integer_value(json_object_get(p, "config_version"));
	if (pcfg > 0)
		json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:I}", "type", "config", "service", service, "env",
						       env, "version", pcfg));

	/* 3. down-migrations of what D added, newest first */
	json_t *dm = json_object_get(d, "migrations"), *pm = json_object_get(p, "migrations");
	for (size_t i = json_array_size(dm); i-- > 0;) {
		const char *id = json_string_value(json_array_get(dm, i));
		if (!id || in_array(pm, id))
			continue;
		json_t *m = migration_of(c, service, id);
		bool rev = json_is_true(json_object_get(m, "reversible"));
		const char *down = json_string_value(json_object_get(m, "down"));
		if (!rev || !down) {
			if (!allow_irreversible) {
				blocked = true;
				snprintf(reason, sizeof(reason),
					 "migration %s is irreversible (no down migration registered): the plan stops here; "
					 "--allow-irreversible (with approval) proceeds without undoing it",
					 id);
			}
			json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:b}", "type", "migration_skip", "service",
							       service, "migration", id, "irreversible", 1));
		} else {
			json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:s}", "type", "migration_down", "service",
							       service, "migration", id, "down", down));
		}
		json_decref(m);
	}

	/* 4. redeploy the previous artifact, 5. record, 6. verify */
	json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:O, s:O}", "type", "redeploy", "service", service, "env",
					       env, "version", json_object_get(p, "version"), "artifact",
					       json_object_get(p, "artifact") ? json_object_get(p, "artifact") : json_null()));
	json_array_append_new(steps, json_pack("{s:s}", "type", "record"));
	json_array_append_new(steps, json_pack("{s:s}", "type", "verify"));

	*out = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:o, s:b, s:s?}", "deploy", deploy_id, "service", service, "env",
			 env, "restores", prev, "from_version", json_object_get(d, "version"), "to_version",
			 json_object_get(p, "version"), "steps", steps, "blocked", blocked, "reason",
			 blocked ? reason : NULL);
	json_decref(d);
	json_decref(p);
	return 0;
}

/* ---- hooks -------------------------------------------------------------- */

static int run_exec(const json_t *argv, int64_t timeout_ns, char *const envp_extra[], struct buf *err)
{
	size_t n = json_array_size(argv);
	char **args = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		args[i] = (char *)json_string_value(json_array_get(argv, i));
	/* started without a fork that could allocate (core/spawn.h); the hook's variables on top of ours; its own
	 * process group, so the deadline's SIGKILL reaches what it started (a script's kubectl) */
	struct spawn_opts so = { .argv = args, .env_extra = envp_extra, .out_fd = -1, .own_group = true };
	pid_t pid;
	int src = ooda_spawn(&so, &pid);
	if (src) {
		buf_addf(err, "cannot start %s: %s", args[0], strerror(src));
		free(args);
		return OODA_EIO;
	}
	int64_t deadline = ooda_mono_ns() + timeout_ns;
	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (ooda_mono_ns() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			buf_addf(err, "hook %s timed out after %llds and was killed", args[0],
				 (long long)(timeout_ns / OODA_NS_PER_SEC));
			free(args);
			return OODA_ETIMEOUT;
		}
		usleep(20000);
	}
	int rc = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		buf_addf(err, "hook %s %s %d", args[0], WIFEXITED(status) ? "exited with" : "died of signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		rc = OODA_EIO;
	}
	free(args);
	return rc;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static int run_http(const json_t *h, const char *body, int64_t timeout_ns, struct buf *err)
{
	CURL *cu = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	const char *method = json_string_value(json_object_get(h, "method"));
	curl_easy_setopt(cu, CURLOPT_URL, json_string_value(json_object_get(h, "url")));
	curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method ? method : "POST");
	curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, (long)(timeout_ns / 1000000));
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	CURLcode cr = curl_easy_perform(cu);
	long code = 0;
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
	int rc = 0;
	if (cr != CURLE_OK) {
		buf_addf(err, "hook %s: %s", json_string_value(json_object_get(h, "url")), curl_easy_strerror(cr));
		rc = OODA_EUNAVAIL;
	} else if (code < 200 || code > 299) {
		buf_addf(err, "hook %s answered %ld", json_string_value(json_object_get(h, "url")), code);
		rc = OODA_EIO;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(cu);
	return rc;
}

/* Runs deploy.hooks.NAME for a step; no hook configured is an error that says so. */
static int run_hook(struct change *c, const char *name, const char *run_id, size_t step, const json_t *s,
		    struct buf *err)
{
	pthread_mutex_lock(&c->mu);
	json_t *h = json_deep_copy(json_object_get(json_object_get(c->deploy_cfg, "hooks"), name));
	pthread_mutex_unlock(&c->mu);
	if (!h) {
		buf_addf(err, "no deploy.hooks.%s is configured in ooda.yaml, so ooda cannot perform this step", name);
		return OODA_EPRECOND;
	}
	int64_t timeout = 5 * 60 * OODA_NS_PER_SEC;
	const char *t = json_string_value(json_object_get(h, "timeout"));
	if (t)
		ooda_duration_parse(t, strlen(t), &timeout);
	int rc;
	if (json_object_get(h, "exec")) {
		char e[8][300];
		const char *keys[6] = { "service", "env", "version", "artifact", "migration", "down" };
		const char *names[6] = { "OODA_SERVICE", "OODA_ENV", "OODA_VERSION", "OODA_ARTIFACT", "OODA_MIGRATION",
					 "OODA_DOWN" };
		char *envp[9];
		int ne = 0;
		snprintf(e[ne], 300, "OODA_RUN_ID=%s", run_id);
		envp[ne] = e[ne];
		ne++;
		snprintf(e[ne], 300, "OODA_STEP=%zu", step);
		envp[ne] = e[ne];
		ne++;
		for (int i = 0; i < 6 && ne < 8; i++) {
			const char *v = json_string_value(json_object_get(s, keys[i]));
			if (v) {
				snprintf(e[ne], 300, "%s=%s", names[i], v);
				envp[ne] = e[ne];
				ne++;
			}
		}
		envp[ne] = NULL;
		rc = run_exec(json_object_get(h, "exec"), timeout, envp, err);
	} else {
		json_t *b = json_deep_copy(s);
		json_object_set_new(b, "run_id", json_string(run_id));
		json_object_set_new(b, "step", json_integer((json_int_t)step));
		char *body = json_dumps(b, JSON_COMPACT);
		rc = run_http(json_object_get(h, "http"), body, timeout, err);
		free(body);
		json_decref(b);
	}
	json_decref(h);
	return rc;
}

/* ---- runs --------------------------------------------------------------- */

static int run_load(struct change *c, const char *id, json_t **run, int64_t *version, struct buf *err)
{
	struct vdoc d;
	int rc = vdoc_get(c->store, "rollback-run", id, 0, &d, err);
	if (rc)
		return rc;
	*run = json_loadb(d.body, d.body_len, 0, NULL);
	*version = d.version;
	vdoc_release(&d);
	return *run ? 0 : OODA_ECORRUPT;
}

/* Persists the run (optimistic: the runner is its only writer). */
static int run_save(struct change *c, const char *id, json_t *run, int64_t expect, const char *action,
		    const char *rationale, int64_t *version, struct buf *err)
{
	char *body = json_dumps(run, JSON_COMPACT);
	char target[80];
	snprintf(target, sizeof(target), "rollback-run/%s", id);
	const char *actor = json_string_value(json_object_get(run, "actor"));
	struct vdoc_write w = { .kind = "rollback-run", .key = id, .body = body, .body_len = strlen(body),
				.status = json_string_value(json_object_get(run, "status")),
				.expect_version = expect, .actor = actor ? actor : "engine:rollback",
				.rationale = rationale, .action = action, .target = target };
	int rc = vdoc_put(c->store, c->sg, &w, err);
	free(body);
	if (!rc && version)
		*version = w.version;
	return rc;
}

static int flags_step(struct change *c, const json_t *s, const char *actor, const char *why, struct buf *err)
{
	const char *env = json_string_value(json_object_get(s, "env"));
	json_t *now = NULL;
	int rc = flagstore_snapshot(c->flags, env, &now, err);
	if (rc)
		return rc;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(s, "restore"), k, v) {
		if (json_equal(json_object_get(now, k), v))
			continue; /* already restored (a resumed run) */
		char key[400];
		snprintf(key, sizeof(key), "%s/%s", env, k);
		struct vdoc cur;
		struct buf ignore = BUF_INIT;
		int64_t target = json_integer_value(v);
		/* content equal to the target version counts as restored too */
		bool same = false;
		struct vdoc want;
		if (!vdoc_get(c->store, "flag", key, 0, &cur, &ignore) && !vdoc_get(c->store, "flag", key, target, &want, &ignore)) {
			same = !cur.deleted && !want.deleted && !strcmp(cur.body, want.body);
			vdoc_release(&want);
		}
		vdoc_release(&cur);
		buf_release(&ignore);
		if (same)
			continue;
		struct flag_change ch = { .env = env, .key = k, .actor = actor, .rationale = why, .expect_version = -1 };
		if ((rc = flagstore_rollback(c->flags, &ch, target, err)))
			break;
	}
	size_t i;
	json_array_foreach(json_object_get(s, "disable"), i, v) {
		if (rc)
			break;
		struct buf out = BUF_INIT;
		rc = flagstore_kill(c->flags, env, json_string_value(v), NULL, 0, actor, why, &out, err);
		if (rc == OODA_ENOTFOUND) {
			rc = 0; /* deleted meanwhile: nothing to disable */
			buf_reset(err);
		}
		buf_release(&out);
	}
	json_decref(now);
	return rc;
}

static int config_step(struct change *c, const json_t *s, const char *actor, const char *why, struct buf *err)
{
	const char *svc = json_string_value(json_object_get(s, "service"));
	const char *env = json_string_value(json_object_get(s, "env"));
	int64_t to = json_integer_value(json_object_get(s, "version"));
	char key[300];
	snprintf(key, sizeof(key), "%s/%s", svc, env);
	struct vdoc cur, want;
	struct buf ignore = BUF_INIT;
	bool same = false;
	if (!vdoc_get(c->store, "config", key, 0, &cur, &ignore)) {
		if (cur.version == to)
			same = true;
		else if (!vdoc_get(c->store, "config", key, to, &want, &ignore)) {
			same = !strcmp(cur.body, want.body);
			vdoc_release(&want);
		}
	}
	vdoc_release(&cur);
	buf_release(&ignore);
	if (same)
		return 0;
	int64_t v;
	return config_rollback(c, svc, env, to, actor, why, &v, err);
}

static int migration_step(struct change *c, const char *run_id, size_t idx, const json_t *s, const char *actor,
			  const char *why, struct buf *err)
{
	const char *svc = json_string_value(json_object_get(s, "service"));
	const char *mig = json_string_value(json_object_get(s, "migration"));
	char key[300];
	snprintf(key, sizeof(key), "%s/%s", svc, mig);
	struct vdoc st;
	struct buf ignore = BUF_INIT;
	bool down = false;
	if (!vdoc_get(c->store, "migration-state", key, 0, &st, &ignore))
		down = strstr(st.body, "\"applied\":false") != NULL;
	vdoc_release(&st);
	buf_release(&ignore);
	if (down)
		return 0;
	int rc = run_hook(c, "migrate_down", run_id, idx, s, err);
	if (!rc) {
		char target[320];
		snprintf(target, sizeof(target), "migration/%s", key);
		const char *b = "{\"applied\":false}";
		struct vdoc_write w = { .kind = "migration-state", .key = key, .body = b, .body_len = strlen(b),
					.expect_version = -1, .actor = actor, .rationale = why, .action = "migration.down",
					.target = target };
		rc = vdoc_put(c->store, c->sg, &w, err);
	}
	return rc;
}

static int record_step(struct change *c, const char *run_id, json_t *run, const char *actor, const char *why,
		       struct buf *err)
{
	if (json_string_value(json_object_get(run, "result_deploy")))
		return 0; /* recorded before a crash: the run doc says so */
	json_t *plan = json_object_get(run, "plan");
	json_t *p;
	int rc = deploy_get(c, json_string_value(json_object_get(plan, "restores")), &p, err);
	if (rc)
		return rc;
	size_t nm = json_array_size(json_object_get(p, "migrations"));
	const char **migs = xcalloc(nm + 1, sizeof(char *));
	for (size_t i = 0; i < nm; i++)
		migs[i] = json_string_value(json_array_get(json_object_get(p, "migrations"), i));
	struct deploy_req r = { .service = json_string_value(json_object_get(p, "service")),
				.env = json_string_value(json_object_get(p, "environment")),
				.version = json_string_value(json_object_get(p, "version")),
				.artifact = json_string_value(json_object_get(p, "artifact")),
				.config_version = json_integer_value(json_object_get(p, "config_version")),
				.migrations = migs, .n_migrations = nm, .actor = actor, .note = why,
				.rollback_of = json_string_value(json_object_get(plan, "deploy")), .run_id = run_id };
	rc = deploy_record(c, &r, err);
	free(migs);
	json_decref(p);
	return rc;
}

/* Executes the remaining steps of a run; returns when it is done or failed. */
static void run_execute(struct change *c, const char *id)
{
	struct buf err = BUF_INIT;
	json_t *run;
	int64_t ver;
	if (run_load(c, id, &run, &ver, &err)) {
		log_error("rollback run %s cannot be loaded: %s", id, err.data);
		buf_release(&err);
		return;
	}
	const char *status = json_string_value(json_object_get(run, "status"));
	if (!status || strcmp(status, "running")) { /* finished already (pushed and also resumed) */
		json_decref(run);
		buf_release(&err);
		return;
	}
	const char *actor = json_string_value(json_object_get(run, "actor"));
	char who[160], why[400];
	snprintf(who, sizeof(who), "%s", actor ? actor : "engine:rollback");
	snprintf(why, sizeof(why), "rollback run %s: %s", id, json_string_value(json_object_get(run, "rationale")) ?
								  json_string_value(json_object_get(run, "rationale")) : "");
	json_t *steps = json_object_get(json_object_get(run, "plan"), "steps");
	json_t *state = json_object_get(run, "state");
	int rc = 0;
	for (size_t i = 0; i < json_array_size(steps) && !rc; i++) {
		const char *st = json_string_value(json_array_get(state, i));
		if (st && !strcmp(st, "done"))
			continue;
		json_t *s = json_array_get(steps, i);
		char type[32]; /* a copy: the record step reloads the run document */
		snprintf(type, sizeof(type), "%s", json_string_value(json_object_get(s, "type")) ?
							json_string_value(json_object_get(s, "type")) : "");
		/* mark running first: a crash from here on resumes at this step */
		json_array_set_new(state, i, json_string("running"));
		if ((rc = run_save(c, id, run, ver, "rollback.step", type, &ver, &err)))
			break;
		if (!strcmp(type, "flags"))
			rc = flags_step(c, s, who, why, &err);
		else if (!strcmp(type, "config"))
			rc = config_step(c, s, who, why, &err);
		else if (!strcmp(type, "migration_down"))
			rc = migration_step(c, id, i, s, who, why, &err);
		else if (!strcmp(type, "migration_skip"))
			rc = 0;
		else if (!strcmp(type, "redeploy"))
			rc = run_hook(c, "redeploy", id, i, s, &err);
		else if (!strcmp(type, "record")) {
			rc = record_step(c, id, run, who, why, &err);
			if (!rc) { /* the deploy transaction updated the run doc: reload it */
				json_decref(run);
				struct buf e2 = BUF_INIT;
				rc = run_load(c, id, &run, &ver, &e2);
				buf_release(&e2);
				steps = json_object_get(json_object_get(run, "plan"), "steps");
				state = json_object_get(run, "state");
			}
		} else if (!strcmp(type, "verify")) {
			struct buf vout = BUF_INIT;
			const char *dep = json_string_value(json_object_get(run, "result_deploy"));
			rc = dep ? deploy_verify(c, dep, &vout, &err) : 0;
			if (!rc && vout.len)
				json_object_set_new(run, "verification", json_loads(vout.data, 0, NULL));
			buf_release(&vout);
		}
		json_array_set_new(state, i, json_string(rc ? "failed" : "done"));
		if (rc) {
			json_object_set_new(run, "error", json_string(err.data));
			log_error("rollback run %s failed at step %zu (%s): %s", id, i, type, err.data);
		}
		struct buf e3 = BUF_INIT;
		int src = run_save(c, id, run, ver, "rollback.step", rc ? err.data : type, &ver, &e3);
		buf_release(&e3);
		if (src)
			break;
	}
	char when[40];
	ooda_time_format(ooda_now_ns(), when, sizeof(when));
	json_object_set_new(run, "status", json_string(rc ? "failed" : "done"));
	json_object_set_new(run, "finished", json_string(when));
	struct buf e4 = BUF_INIT;
	run_save(c, id, run, ver, rc ? "rollback.failed" : "rollback.done", rc ? err.data : "finished", NULL, &e4);
	buf_release(&e4);
	char desc[600];
	snprintf(desc, sizeof(desc), "rollback run %s %s%s%s", id, rc ? "failed" : "finished", rc ? ": " : "",
		 rc ? err.data : "");
	struct buf e5 = BUF_INIT;
	json_t *plan = json_object_get(run, "plan");
	vdoc_event(c->tstore, "rollback", json_string_value(json_object_get(plan, "service")),
		   json_string_value(json_object_get(plan, "env")), json_string_value(json_object_get(plan, "to_version")),
		   who, desc, &e5);
	buf_release(&e5);
	json_decref(run);
	buf_release(&err);
}

/* Wakes rollback_wait callers: a run reached done or failed. */
static void run_finished(struct change *c)
{
	pthread_mutex_lock(&c->mu);
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->mu);
}

static int running_row(void *ctx, const void *row)
{
	const struct doc_row *r = row;
	json_array_append_new(ctx, json_string(r->key));
	return 0;
}

/*
 * The runner's fn: an item is the id of a run rollback_start just stored
 * (ours to free); a wake (NULL) resumes every run whose stored status is
 * running, found by the store's status index.
 */
static void runner_run(void *ctx, void *item)
{
	struct change *c = ctx;
	if (item) {
		run_execute(c, item);
		free(item);
		run_finished(c);
		return;
	}
	json_t *ids = json_array();
	if (vdoc_list_status(c->store, "rollback-run", "running", running_row, ids))
		log_error("rollback runner: cannot list the running runs");
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id) {
		if (worker_stopping(c->runner))
			break;
		run_execute(c, json_string_value(id));
		run_finished(c);
	}
	json_decref(ids);
}

int change_start(struct change *c, struct buf *err)
{
	/* a run id a full queue refuses is not lost: it is stored running, and the wake resumes it */
	struct worker_opts o = { .capacity = 64, .stop_mode = WORKER_CANCEL, .item_free = free, .leader_only = true };
	int rc = worker_create("rollback runner", runner_run, c, &o, &c->runner, err);
	if (!rc)
		worker_wake(c->runner); /* resume the runs a crash or a stop left running */
	if (!rc)
		rc = rollout_engine_start(c, err);
	return rc;
}

void change_quiesce(struct change *c)
{
	worker_quiesce(c->runner);
}

void change_release(struct change *c)
{
	/*
	 * Queued runs and rollouts stay as stored; the next change_start resumes
	 * them. The runner stops first (as before rollouts existed: a queued run
	 * does not start during the stop), but is freed only after the rollout
	 * engine, which may still hand it a rollback: refused, that run stays
	 * stored as running.
	 */
	worker_stop(c->runner);
	rollout_engine_stop(c);
	worker_destroy(c->runner);
	c->runner = NULL;
	json_decref(c->deploy_cfg);
	json_decref(c->approval_cfg);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->wake);
}

int rollback_start(struct change *c, const char *deploy_id, bool allow_irreversible, bool approved, const char *actor,
		   const char *rationale, char run_id[48], char approval_id[48], struct buf *err)
{
	run_id[0] = approval_id[0] = 0;
	json_t *plan;
	int rc = rollback_plan(c, deploy_id, allow_irreversible, &plan, err);
	if (rc)
		return rc;
	if (json_is_true(json_object_get(plan, "blocked"))) {
		buf_addf(err, "the rollback plan is blocked: %s", json_string_value(json_object_get(plan, "reason")));
		json_decref(plan);
		return OODA_EPRECOND;
	}
	const char *env = json_string_value(json_object_get(plan, "env"));
	bool irreversible = false;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(plan, "steps"), i, s)
		irreversible |= !strcmp(json_string_value(json_object_get(s, "type")), "migration_skip");
	int64_t exp = 0;
	/* rationale is required for anything that acts */
	if (!rationale || !*rationale) {
		json_decref(plan);
		buf_adds(err, "a rollback needs a rationale (why), which goes to the audit log and the timeline");
		return OODA_EINVAL;
	}
	const char *class = NULL; /* the approval class that covers this rollback, if any */
	if (approved)
		; /* performing an approved request */
	else if (approval_required(c, "rollback", env, NULL, &exp))
		class = irreversible ? "migration.irreversible" : "rollback";
	else if (irreversible && approval_required(c, "migration.irreversible", env, NULL, &exp))
		class = "migration.irreversible";
	else if (plan_touches_protected_flag(c, plan, &exp))
		class = "flag.change";
	if (class) {
		json_t *action = json_pack("{s:s, s:s, s:b}", "type", "rollback", "deploy", deploy_id, "allow_irreversible",
					   allow_irreversible);
		rc = approval_request(c, class, env, action, actor, rationale, exp, approval_id, err);
		json_decref(action);
		json_decref(plan);
		return rc;
	}
	int64_t now = ooda_now_ns();
	snprintf(run_id, 48, "rb-%013llx-%04x", (unsigned long long)(now / 1000000), randombytes_uniform(65536));
	char when[40];
	ooda_time_format(now, when, sizeof(when));
	json_t *state = json_array();
	for (i = 0; i < json_array_size(json_object_get(plan, "steps")); i++)
		json_array_append_new(state, json_string("pending"));
	json_t *run = json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:s}", "id", run_id, "deploy", deploy_id, "plan", plan,
				"state", state, "status", "running", "actor", actor, "rationale", rationale);
	json_object_set_new(run, "started", json_string(when));
	rc = run_save(c, run_id, run, 0, "rollback.start", rationale, NULL, err);
	json_decref(run);
	if (!rc && c->runner) {
		char *item = xstrdup(run_id);
		if (worker_push(c->runner, item)) {
			free(item);
			worker_wake(c->runner); /* queue full: the wake finds it by its running status */
		}
	}
	return rc;
}

int rollback_run_json(struct change *c, const char *run_id, struct buf *out, struct buf *err)
{
	struct vdoc d;
	int rc = vdoc_get(c->store, "rollback-run", run_id, 0, &d, err);
	if (!rc)
		buf_add(out, d.body, d.body_len);
	vdoc_release(&d);
	return rc;
}

/* Is the stored run still running? Sets *rc to the read's error (the run is then not running). */
static bool run_is_running(struct change *c, const char *run_id, int *rc)
{
	struct vdoc d;
	struct buf ignore = BUF_INIT;
	*rc = vdoc_get(c->store, "rollback-run", run_id, 0, &d, &ignore);
	bool running = false;
	if (!*rc) {
		json_t *run = json_loadb(d.body, d.body_len, 0, NULL);
		const char *st = json_string_value(json_object_get(run, "status"));
		running = st && !strcmp(st, "running");
		json_decref(run);
	}
	vdoc_release(&d);
	buf_release(&ignore);
	return running;
}

int rollback_wait(struct change *c, const char *run_id, int timeout_ms)
{
	int64_t deadline = ooda_mono_ns() + (int64_t)timeout_ms * 1000000;
	int rc;
	pthread_mutex_lock(&c->mu);
	/* the runner broadcasts after each run it finishes; the check is under mu, so none is missed */
	while (run_is_running(c, run_id, &rc)) {
		if (worker_cond_wait_until(&c->wake, &c->mu, deadline)) {
			if (run_is_running(c, run_id, &rc))
				rc = OODA_ETIMEOUT;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}
