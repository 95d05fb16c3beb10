#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logfile.h"

static char			 logpath[256];
static volatile sig_atomic_t	 hup;

/*
 * Each process holds the file on its own fd 2 (workers are forked, so
 * they share the master's open file until they reopen it themselves).
 */
static int
attach(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1)
		return -1;
	if (fd != STDERR_FILENO) {
		if (dup2(fd, STDERR_FILENO) == -1) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

int
logfile_open(const char *path)
{
	if (strlen(path) >= sizeof(logpath)) {
		fprintf(stderr, "tenantd: log.file: path too long\n");
		return -1;
	}
	if (attach(path) == -1) {
		fprintf(stderr, "tenantd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memcpy(logpath, path, strlen(path) + 1);
	return 0;
}

void
logfile_on_hup(int sig)
{
	(void)sig;
	hup = 1;
}

bool
logfile_reopen_due(void)
{
	return hup != 0;
}

void
logfile_reopen(void)
{
	hup = 0;
	if (*logpath == '\0')
		return;
	/* On failure the old file goes on: better than losing the lines. */
	if (attach(logpath) == -1)
		fprintf(stderr, "tenantd[%d]: cannot reopen %s: %s\n",
		    (int)getpid(), logpath, strerror(errno));
	else
		fprintf(stderr, "tenantd[%d]: log reopened\n", (int)getpid());
}
