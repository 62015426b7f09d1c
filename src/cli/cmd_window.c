/*
 * `ooda export` and `ooda import`: a time window of a data dir's telemetry
 * and alerts to one window file, and a window file into a new data dir
 * (store/window.h, docs/export.md). Both work offline on the stores, like
 * `ooda telemetry check`: export reads a stopped daemon's data dir or an
 * `ooda backup` of a running one; import builds the new store in a
 * sibling temp dir — after a first pass has checked the whole file,
 * checksum included — and renames it into place, so a refused or failed
 * import leaves nothing behind.
 */
#include "cli/cli.h"
#include "audit/audit.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/time.h"
#include "store/store.h"
#include "store/tstore.h"
#include "store/window.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMPORT_QUEUE_BYTES (256u << 20)

static const char *window_data_dir(struct cli_args *a)
{
	const char *d = cli_opt(a, "--data");
	return d && *d ? d : "./ooda-data";
}

static int parse_when(const char *flag, const char *v, int64_t *ns, struct buf *err)
{
	if (!v || !*v || ooda_time_parse(v, strlen(v), ns)) {
		buf_addf(err, "%s: give a time (RFC 3339 or unix seconds/ms/ns), not \"%s\"", flag, v ? v : "");
		return OODA_EINVAL;
	}
	return 0;
}

static void print_counts(const char *verb, const struct window_counts *c, double secs)
{
	uint64_t recs = c->logs + c->spans + c->points + c->events + c->docs;
	char hex[65];
	hex_encode(c->sha256, 32, hex);
	fprintf(stderr,
		"%s %llu logs, %llu spans, %llu metric points, %llu change events, %llu alert versions "
		"(%.1f MB, %.1fs, %.0f records/s); sha256 %s\n",
		verb, (unsigned long long)c->logs, (unsigned long long)c->spans, (unsigned long long)c->points,
		(unsigned long long)c->events, (unsigned long long)c->docs, (double)c->bytes / 1e6, secs,
		secs > 0 ? (double)recs / secs : 0.0, hex);
}

int cmd_export(struct cli_args *a, struct buf *err)
{
	struct window_header h = { 0 };
	int rc = parse_when("--from", cli_opt(a, "--from"), &h.from_ns, err);
	if (!rc)
		rc = parse_when("--to", cli_opt(a, "--to"), &h.to_ns, err);
	if (rc)
		return rc;
	if (h.from_ns > h.to_ns) {
		buf_adds(err, "--from is after --to");
		return OODA_EINVAL;
	}
	const char *svc = cli_opt(a, "--service");
	if (svc && strlen(svc) >= sizeof(h.service)) {
		buf_addf(err, "--service: longer than %zu bytes", sizeof(h.service) - 1);
		return OODA_EINVAL;
	}
	snprintf(h.service, sizeof(h.service), "%s", svc ? svc : "");
	snprintf(h.ooda_version, sizeof(h.ooda_version), "%s", OODA_VERSION);
	h.created_ns = ooda_now_ns();
	const char *output = cli_opt(a, "--output");
	if ((!output || !strcmp(output, "-")) && isatty(STDOUT_FILENO)) {
		buf_adds(err, "a window file is binary: redirect stdout (> window.ooda) or name it with --output FILE");
		return OODA_EINVAL;
	}
	const char *dir = window_data_dir(a);
	char path[4200];
	snprintf(path, sizeof(path), "%s/telemetry.db", dir);
	if (access(path, F_OK)) {
		buf_addf(err, "no telemetry.db in %s: name a data dir with --data DIR", dir);
		return OODA_ENOTFOUND;
	}
	struct store *s = NULL;
	struct tstore *t = NULL;
	rc = store_open(dir, STORE_READONLY | STORE_NO_WRITER_THREAD, &s, err);
	struct tstore_options topt = { .queue_bytes = IMPORT_QUEUE_BYTES, .expect_existing = true };
	if (!rc)
		rc = tstore_open(dir, &topt, &t, err);
	FILE *out = stdout;
	char tmp[4300] = "";
	if (!rc && output && strcmp(output, "-")) {
		snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", output, (long)getpid());
		if (!(out = fopen(tmp, "wb"))) {
			buf_addf(err, "%s: %s", tmp, strerror(errno));
			rc = OODA_EIO;
		}
	}
	struct window_counts c;
	int64_t t0 = ooda_mono_ns();
	if (!rc)
		rc = window_export(t, s, &h, out, &c, err);
	double secs = (double)(ooda_mono_ns() - t0) / 1e9;
	if (out != stdout && out) {
		if (fsync(fileno(out)) && !rc) {
			buf_addf(err, "%s: %s", tmp, strerror(errno));
			rc = OODA_EIO;
		}
		if (fclose(out) && !rc) {
			buf_addf(err, "%s: %s", tmp, strerror(errno));
			rc = OODA_EIO;
		}
		if (!rc && rename(tmp, output)) {
			buf_addf(err, "%s: %s", output, strerror(errno));
			rc = OODA_EIO;
		}
		if (rc)
			unlink(tmp);
	} else if (out == stdout && fflush(stdout) && !rc) {
		buf_adds(err, "writing the window file to stdout failed");
		rc = OODA_EIO;
	}
	tstore_close(t);
	store_close(s);
	if (!rc)
		print_counts("exported", &c, secs);
	if (!rc && c.skipped_blocks)
		fprintf(stderr,
			"warning: %llu damaged telemetry blocks of %s were left out (they do not decode); "
			"`ooda telemetry check --data %s` lists them\n",
			(unsigned long long)c.skipped_blocks, dir, dir);
	return rc;
}

/* Removes dir and the files in it (a temp store of our own; no subdirectories). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char p[4700];
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* 0 when dir is absent or an empty directory (*exists tells which). */
static int dir_fresh(const char *dir, bool *exists, struct buf *err)
{
	struct stat st;
	*exists = stat(dir, &st) == 0;
	if (!*exists)
		return 0;
	DIR *d = S_ISDIR(st.st_mode) ? opendir(dir) : NULL;
	if (!d) {
		buf_addf(err, "--data %s: not a directory", dir);
		return OODA_EINVAL;
	}
	struct dirent *e;
	bool empty = true;
	while ((e = readdir(d)))
		empty = empty && (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."));
	closedir(d);
	if (!empty) {
		buf_addf(err, "--data %s is not empty: an import makes a new store; name a new or empty directory", dir);
		return OODA_ECONFLICT;
	}
	return 0;
}

/* fsyncs the directory holding path, so a rename in it is durable (best effort). */
static void sync_parent(const char *path)
{
	char p[4300];
	snprintf(p, sizeof(p), "%s", path);
	char *slash = strrchr(p, '/');
	if (slash && slash != p)
		*slash = 0;
	else
		snprintf(p, sizeof(p), "%s", slash ? "/" : ".");
	int fd = open(p, O_RDONLY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* fsyncs every file of dir ("." included: the dir itself). */
static int sync_tree(const char *dir, struct buf *err)
{
	DIR *d = opendir(dir);
	int rc = d ? 0 : OODA_EIO;
	struct dirent *e;
	char p[4700];
	while (d && !rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		int fd = open(p, O_RDONLY);
		if (fd < 0 || fsync(fd))
			rc = OODA_EIO;
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
	if (rc)
		buf_addf(err, "syncing %s to disk failed: %s", dir, strerror(errno));
	return rc;
}

struct import_audit {
	const char *actor, *rationale, *target;
	struct buf *detail;
	const struct audit_signer *sg;
};

static int import_audit_tx(struct store *s, void *ctx, struct buf *err)
{
	struct import_audit *c = ctx;
	struct audit_entry e = { .actor = c->actor, .action = "window.import", .target = c->target,
				 .after = c->detail->data, .after_len = c->detail->len, .rationale = c->rationale,
				 .detail = c->detail->data };
	return audit_append(s, c->sg, &e, err);
}

static int import_into(const char *tmp, const char *file, struct cli_args *a, struct window_counts *c,
		       struct buf *err)
{
	struct store *s = NULL;
	struct tstore *t = NULL;
	struct audit_signer sg;
	struct window_header h;
	FILE *in = fopen(file, "rb");
	if (!in) {
		buf_addf(err, "%s: %s", file, strerror(errno));
		return OODA_EIO;
	}
	int rc = store_open(tmp, STORE_NO_WRITER_THREAD, &s, err);
	if (!rc)
		rc = audit_signer_load(&sg, tmp, 0, err);
	/* no fsync per commit: the temp store counts only once renamed, after sync_tree */
	struct tstore_options topt = { .queue_bytes = IMPORT_QUEUE_BYTES, .no_fsync = true };
	if (!rc)
		rc = tstore_open(tmp, &topt, &t, err);
	if (!rc)
		rc = window_import(in, t, s, &h, c, err);
	if (!rc)
		rc = store_telemetry_record(s, err);
	if (!rc) {
		char hex[65], target[80], from[40], to[40];
		hex_encode(c->sha256, 32, hex);
		snprintf(target, sizeof(target), "window/%.16s", hex);
		ooda_time_format(h.from_ns, from, sizeof(from));
		ooda_time_format(h.to_ns, to, sizeof(to));
		json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "sha256", hex, "from", from, "to", to,
				      "service", h.service, "ooda_version", h.ooda_version, "logs",
				      (json_int_t)c->logs, "spans", (json_int_t)c->spans, "points",
				      (json_int_t)c->points, "events", (json_int_t)c->events, "docs",
				      (json_int_t)c->docs);
		char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(d);
		struct buf detail = BUF_INIT;
		buf_adds(&detail, text);
		free(text);
		const char *why = cli_opt(a, "--rationale");
		struct import_audit ia = { cli_actor(), why ? why : "", target, &detail, &sg };
		rc = store_write(s, import_audit_tx, &ia, err);
		buf_release(&detail);
	}
	tstore_close(t);
	store_close(s);
	fclose(in);
	if (!rc)
		rc = sync_tree(tmp, err);
	return rc;
}

int cmd_import(struct cli_args *a, struct buf *err)
{
	if (a->n_pos != 1) {
		buf_adds(err, "usage: ooda import FILE --data DIR");
		return OODA_EINVAL;
	}
	const char *file = a->pos[0];
	const char *dir = window_data_dir(a);
	bool exists;
	int rc = dir_fresh(dir, &exists, err);
	if (rc)
		return rc;
	/* first pass: the whole file, checksum included, before anything is written */
	FILE *in = fopen(file, "rb");
	if (!in) {
		buf_addf(err, "%s: %s", file, strerror(errno));
		return OODA_EIO;
	}
	struct window_header h;
	struct window_counts c;
	rc = window_import(in, NULL, NULL, &h, &c, err);
	fclose(in);
	if (rc) {
		buf_addf(err, "; nothing was written to %s", dir);
		return rc;
	}
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.import-%ld", dir, (long)getpid());
	if (mkdir(tmp, 0700)) {
		buf_addf(err, "%s: %s", tmp, strerror(errno));
		return OODA_EIO;
	}
	int64_t t0 = ooda_mono_ns();
	rc = import_into(tmp, file, a, &c, err);
	double secs = (double)(ooda_mono_ns() - t0) / 1e9;
	if (!rc && exists && rmdir(dir)) {
		buf_addf(err, "%s: %s", dir, strerror(errno));
		rc = OODA_EIO;
	}
	if (!rc && rename(tmp, dir)) {
		buf_addf(err, "%s: %s", dir, strerror(errno));
		rc = OODA_EIO;
	}
	if (rc) {
		remove_tree(tmp);
		buf_addf(err, "; nothing was written to %s", dir);
		return rc;
	}
	sync_parent(dir);
	print_counts("imported", &c, secs);
	fprintf(stderr, "into %s (audited as window.import by %s); serve it with `ooda serve --data %s`\n", dir,
		cli_actor(), dir);
	return 0;
}
