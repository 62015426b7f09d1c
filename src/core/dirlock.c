/* The data dir's lock (see dirlock.h): flock on DIR/ooda.lock. */
#include "core/dirlock.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int dirlock_take(const char *dir, const char *who, struct buf *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/ooda.lock", dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		buf_addf(err, "cannot create data dir %s: %s", dir, strerror(errno));
		return OODA_EIO;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_addf(err, "cannot open the data dir's lock %s: %s", path, strerror(errno));
		return OODA_EIO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		close(fd);
		if (e == EWOULDBLOCK) {
			buf_addf(err, "data dir %s is in use by %s (process %s holds %s)", dir, who,
				 pid[0] ? pid : "?", path);
			return OODA_EBUSY;
		}
		buf_addf(err, "cannot lock %s: %s", path, strerror(e));
		return OODA_EIO;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* the lock holds without the pid; it only makes the message better */
	}
	return fd;
}

void dirlock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
