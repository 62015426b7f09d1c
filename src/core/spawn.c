/*
 * Starting a program (see spawn.h).
 */
#include "core/spawn.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* True when entry ("NAME=value") sets a name one of extra sets too. */
static bool overridden(const char *entry, char *const extra[])
{
	size_t len = strcspn(entry, "=");
	for (size_t i = 0; extra[i]; i++)
		if (!strncmp(extra[i], entry, len) && extra[i][len] == '=')
			return true;
	return false;
}

int ooda_spawn(const struct spawn_opts *o, pid_t *pid)
{
	if (!o || !o->argv || !o->argv[0])
		return EINVAL;
	char *const *base = o->env ? o->env : environ;
	char **env = NULL;
	if (o->env_extra && o->env_extra[0]) {
		size_t ne = 0, nx = 0, k = 0;
		while (base[ne])
			ne++;
		while (o->env_extra[nx])
			nx++;
		env = xcalloc(ne + nx + 1, sizeof(char *));
		for (size_t i = 0; i < ne; i++)
			if (!overridden(base[i], o->env_extra))
				env[k++] = base[i];
		for (size_t i = 0; i < nx; i++)
			env[k++] = o->env_extra[i];
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (o->null_stdin)
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (o->out_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, o->out_fd, 1);
		posix_spawn_file_actions_adddup2(&fa, o->out_fd, 2);
	}
	if (o->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none, def;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if (o->own_group) {
		posix_spawnattr_setpgroup(&at, 0);
		flags |= POSIX_SPAWN_SETPGROUP;
	}
	posix_spawnattr_setflags(&at, flags);
	int rc = posix_spawnp(pid, o->argv[0], &fa, &at, o->argv, env ? env : base);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(env);
	return rc;
}
