/*
 * ooda-sim: the command line of the simulator. `run` starts the simulated
 * system (world.c) and waits for SIGINT/SIGTERM; the other commands talk to
 * a running simulator's control port (control.c) over HTTP, like any client.
 * One table of commands; `ooda-sim help` is printed from it.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "fault.h"
#include "httpc.h"
#include "topology.h"
#include "world.h"

struct command {
	const char *name;
	const char *usage;
	const char *help;
	int (*run)(int argc, char **argv);
};

static const struct command commands[];

static void die_usage(const char *msg)
{
	fprintf(stderr, "ooda-sim: %s (ooda-sim help)\n", msg);
	exit(2);
}

static double parse_seconds(const char *opt, const char *s)
{
	int64_t ns;
	if (ooda_duration_parse(s, strlen(s), &ns) < 0 || ns <= 0) {
		char *end;
		double d = strtod(s, &end);
		if (*end || !(d > 0))
			die_usage("a duration like 30s or 10m is expected after this option");
		(void)opt;
		return d;
	}
	return (double)ns / 1e9;
}

/* ---- run ----------------------------------------------------------------- */

static int cmd_run(int argc, char **argv)
{
	struct sim_options o;
	sim_options_init(&o);
	const char *tok = getenv("OODA_TOKEN");
	if (tok && *tok)
		o.token = tok;
	static const struct option longopts[] = {
		{ "ooda", required_argument, NULL, 'o' },       { "token", required_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },        { "base-port", required_argument, NULL, 'b' },
		{ "ports-file", required_argument, NULL, 'p' }, { "rps", required_argument, NULL, 'r' },
		{ "wave-period", required_argument, NULL, 'w' }, { "seed", required_argument, NULL, 's' },
		{ "job-every", required_argument, NULL, 'j' },  { NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'o': o.ooda_url = optarg; break;
		case 't': o.token = optarg; break;
		case 'e': o.env = optarg; break;
		case 'p': o.ports_file = optarg; break;
		case 'w': o.wave_period_s = parse_seconds("--wave-period", optarg); break;
		case 'j': o.job_every_s = parse_seconds("--job-every", optarg); break;
		case 'b':
			o.base_port = (int)strtol(optarg, &end, 10);
			if (*end || o.base_port < 0 || o.base_port > 65535 - SVC_COUNT)
				die_usage("--base-port: a port number (0 picks free ports)");
			break;
		case 'r':
			o.rps = strtod(optarg, &end);
			if (*end || !(o.rps > 0) || o.rps > 2000)
				die_usage("--rps: requests per second, above 0 and at most 2000");
			break;
		case 's': o.seed = strtoull(optarg, NULL, 10); break;
		default: die_usage("unknown option to run");
		}
	}
	if (o.job_every_s < 1)
		die_usage("--job-every: at least 1s (ooda's heartbeats count whole seconds)");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it; main waits below */
	signal(SIGPIPE, SIG_IGN);
	struct buf err = BUF_INIT;
	struct world *w = world_start(&o, &err);
	if (!w) {
		fprintf(stderr, "ooda-sim: %s\n", err.data);
		buf_release(&err);
		return 1;
	}
	printf("ooda-sim: running; control http://127.0.0.1:%d, sending to %s", w->control.port, o.ooda_url);
	for (int i = 0; i < SVC_SERVERS; i++)
		printf("%s %s :%d", i ? "," : ";", svc_defs[i].name, w->svc[i].http.port);
	printf("\n");
	fflush(stdout);
	int sig = 0;
	sigwait(&set, &sig);
	fprintf(stderr, "ooda-sim: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
	world_stop(w);
	buf_release(&err);
	return 0;
}

/* ---- commands that talk to a running simulator ---------------------------- */

static const char *control_url(const char *control, const char *ports_file, char *out, size_t size)
{
	if (control)
		return control;
	if (ports_file) {
		json_t *j = json_load_file(ports_file, 0, NULL);
		json_int_t p = json_integer_value(json_object_get(j, "control"));
		json_decref(j);
		if (p <= 0) {
			fprintf(stderr, "ooda-sim: %s has no control port\n", ports_file);
			exit(1);
		}
		snprintf(out, size, "http://127.0.0.1:%lld", (long long)p);
		return out;
	}
	const char *env = getenv("OODA_SIM_CONTROL");
	return env && *env ? env : "http://127.0.0.1:18400";
}

/* Calls the control port and prints the answer; a problem's detail goes to stderr. */
static int control_call(const char *base, const char *method, const char *path, const char *body)
{
	char url[512];
	snprintf(url, sizeof url, "%s%s", base, path);
	const char *hdr[2] = { "Content-Type: application/json", NULL };
	struct buf resp = BUF_INIT, err = BUF_INIT;
	long status = 0;
	int rc = httpc_call(method, url, hdr, body, body ? strlen(body) : 0, 15000, &status, &resp, &err);
	int exit_code = 0;
	if (rc < 0) {
		fprintf(stderr, "ooda-sim: no simulator answers at %s (%s)\n", base, err.data);
		exit_code = 1;
	} else if (status >= 400) {
		json_t *j = json_loadb(resp.data, resp.len, 0, NULL);
		const char *d = json_string_value(json_object_get(j, "detail"));
		fprintf(stderr, "ooda-sim: %s\n", d ? d : resp.data);
		json_decref(j);
		exit_code = 1;
	} else {
		fwrite(resp.data, 1, resp.len, stdout);
		if (!resp.len || resp.data[resp.len - 1] != '\n')
			putchar('\n');
	}
	buf_release(&resp);
	buf_release(&err);
	return exit_code;
}

struct client_opts {
	const char *control, *ports_file, *service, *for_;
	bool json;
};

static int client_parse(int argc, char **argv, struct client_opts *co)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'c' }, { "ports-file", required_argument, NULL, 'p' },
		{ "service", required_argument, NULL, 's' }, { "for", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },          { NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	memset(co, 0, sizeof *co);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': co->control = optarg; break;
		case 'p': co->ports_file = optarg; break;
		case 's': co->service = optarg; break;
		case 'f': co->for_ = optarg; break;
		case 'j': co->json = true; break;
		default: die_usage("unknown option");
		}
	}
	return optind;
}

static int cmd_fault(int argc, char **argv)
{
	struct client_opts co;
	int i = client_parse(argc, argv, &co);
	if (i >= argc)
		die_usage("fault: which one? ooda-sim list-faults");
	struct buf body = BUF_INIT;
	buf_adds(&body, "{\"name\":");
	buf_add_json_str(&body, argv[i], strlen(argv[i]));
	if (co.service) {
		buf_adds(&body, ",\"service\":");
		buf_add_json_str(&body, co.service, strlen(co.service));
	}
	if (co.for_) {
		buf_adds(&body, ",\"for\":");
		buf_add_json_str(&body, co.for_, strlen(co.for_));
	}
	buf_adds(&body, "}");
	char u[128];
	int rc = control_call(control_url(co.control, co.ports_file, u, sizeof u), "POST", "/faults", body.data);
	buf_release(&body);
	return rc;
}

static int cmd_clear(int argc, char **argv)
{
	struct client_opts co;
	int i = client_parse(argc, argv, &co);
	if (i >= argc)
		die_usage("clear: which fault id? ooda-sim faults");
	char path[64], u[128];
	snprintf(path, sizeof path, "/faults/%.20s", argv[i]);
	return control_call(control_url(co.control, co.ports_file, u, sizeof u), "DELETE", path, NULL);
}

static int cmd_faults(int argc, char **argv)
{
	struct client_opts co;
	char u[128];
	client_parse(argc, argv, &co);
	return control_call(control_url(co.control, co.ports_file, u, sizeof u), "GET", "/faults", NULL);
}

static int cmd_state(int argc, char **argv)
{
	struct client_opts co;
	char u[128];
	client_parse(argc, argv, &co);
	return control_call(control_url(co.control, co.ports_file, u, sizeof u), "GET", "/state", NULL);
}

static int cmd_list_faults(int argc, char **argv)
{
	struct client_opts co;
	client_parse(argc, argv, &co);
	if (co.json) {
		struct buf out = BUF_INIT;
		fault_catalogue_json(&out);
		puts(out.data);
		buf_release(&out);
		return 0;
	}
	printf("%-16s %-11s %-10s %s\n", "FAULT", "SERVICE", "CAUSE", "WHAT HAPPENS");
	for (int i = 0; i < fault_def_count; i++)
		printf("%-16s %-11s %-10s %s\n", fault_defs[i].name, svc_defs[fault_defs[i].default_svc].name,
		       fault_defs[i].expected_kind, fault_defs[i].description);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	printf("ooda-sim: a small simulated system (frontend -> checkout -> payments, inventory -> database,\n"
	       "plus the reconciler job) that sends its telemetry to ooda, with faults to inject.\n\n");
	for (const struct command *c = commands; c->name; c++)
		printf("  ooda-sim %s %s\n      %s\n", c->name, c->usage, c->help);
	printf("\nSee docs/sim.md.\n");
	return 0;
}

static const struct command commands[] = {
	{ "run", "[--ooda URL] [--token T] [--env prod] [--base-port 18400] [--ports-file F] [--rps 20] "
		 "[--wave-period 10m] [--job-every 2s] [--seed N]",
	  "start the simulated system and send its traces, logs and metrics to ooda until SIGINT/SIGTERM", cmd_run },
	{ "fault", "NAME [--service S] [--for DURATION] [--control URL | --ports-file F]",
	  "inject a fault into a running simulator (until cleared, or for DURATION)", cmd_fault },
	{ "clear", "ID [--control URL | --ports-file F]", "clear an active fault now", cmd_clear },
	{ "faults", "[--control URL | --ports-file F]", "list injected faults, active and cleared", cmd_faults },
	{ "state", "[--control URL | --ports-file F]", "the running simulator's services, load, job, flags, export",
	  cmd_state },
	{ "list-faults", "[--json]", "the fault catalogue with each fault's expected root cause", cmd_list_faults },
	{ "help", "", "this text", cmd_help },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return cmd_help(argc, argv);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(argc, argv);
	if (strcmp(argv[1], "--version") == 0) {
		printf("ooda-sim %s\n", OODA_VERSION);
		return 0;
	}
	httpc_global_init();
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "ooda-sim: unknown command \"%s\" (ooda-sim help)\n", argv[1]);
	return 2;
}
