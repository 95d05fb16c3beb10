#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"

#define SD_LISTEN_FDS_START	3

static int
open_unix(const char *path, int backlog, unsigned int mode)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "tenantd: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (unlink(path) == -1 && errno != ENOENT)
		goto fail;
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, (mode_t)mode) == -1 || listen(fd, backlog) == -1) {
		close(fd);
		goto fail;
	}
	return fd;
fail:
	fprintf(stderr, "tenantd: %s: %s\n", path, strerror(errno));
	return -1;
}

static int
open_tcp(const char *addr, int backlog)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 host[256];
	const char	*port = strrchr(addr, ':');
	size_t		 hlen = (size_t)(port - addr);
	int		 fd = -1, on = 1, rc;

	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(hlen ? host : NULL, port + 1, &hints, &res)) != 0) {
		fprintf(stderr, "tenantd: %s: %s\n", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, backlog) == -1) {
			close(fd);
			fd = -1;
		}
	}
	if (fd == -1)
		fprintf(stderr, "tenantd: %s: %s\n", addr, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

int
listener_open(const char *addr, int backlog, unsigned int mode)
{
	if (strncmp(addr, "unix:", 5) == 0)
		return open_unix(addr + 5, backlog, mode);
	if (addr[0] == '/')
		return open_unix(addr, backlog, mode);
	if (strchr(addr, ':') == NULL) {
		fprintf(stderr, "tenantd: listen: expected unix:PATH, "
		    "HOST:PORT or :PORT, not %s\n", addr);
		return -1;
	}
	return open_tcp(addr, backlog);
}

static int
is_listening(int fd)
{
	int		 on = 0;
	socklen_t	 len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/*
 * systemd's socket activation (sd_listen_fds(3), without libsystemd):
 * LISTEN_PID names this process and LISTEN_FDS counts the sockets passed
 * from fd 3 on; tenantd serves the first.  The variables are removed so
 * that nothing tenantd starts takes them for its own.
 */
static int
systemd_fd(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char		*end;
	long		 n;

	if (pid == NULL || fds == NULL)
		return -1;
	errno = 0;
	n = strtol(pid, &end, 10);
	if (errno != 0 || *end != '\0' || n != (long)getpid())
		return -1;
	n = strtol(fds, &end, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*end != '\0' || n < 1 || !is_listening(SD_LISTEN_FDS_START))
		return -1;
	return SD_LISTEN_FDS_START;
}

int
listener_inherited(void)
{
	int	 fd;

	if ((fd = systemd_fd()) != -1)
		return fd;
	return is_listening(0) ? 0 : -1;
}
