/*
 * tenantd: the FastCGI daemon.  A master process opens (or inherits on fd
 * 0) the listening socket, pre-forks the workers, restarts any that dies
 * and stops them all on SIGTERM.  Each worker (worker.c) owns one
 * database connection and serves requests one at a time from the
 * FastCGI connections it holds.
 */
#include "autoconf.h"
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "json_arena.h"
#include "keycache.h"
#include "listener.h"
#include "logfile.h"
#include "metrics.h"
#include "page_marks.h"
#include "provision.h"
#include "tenant_list.h"
#include "tenant_model.h"
#include "tenants.h"
#include "webhook_deliver.h"
#include "tenants_deleted.h"
#include "worker.h"

#define WORKERS_MAX	256
#ifdef TEST_HOOKS
#define TEST_HOOKS_NOTE	" (test hooks)"	/* how the e2e tests tell */
#else
#define TEST_HOOKS_NOTE	""
#endif
#define STOP_GRACE_S	10

static volatile sig_atomic_t	 stopping;
static struct keycache_shared	*keys_shared;	/* mapped before fork */
static struct metrics_shared	*metrics;	/* a slot per child, one more */
static sigset_t			 unheld;	/* the mask before master_run */

static void
on_child(int sig)
{
	(void)sig;	/* only to end sigsuspend() */
}

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: tenantd [--config FILE] [--listen unix:PATH|HOST:PORT]"
	    " [--workers N] [--pidfile FILE]\n"
	    "               [--log FILE] [--provisioner] [--webhooks]\n"
	    "  -c, --config FILE   configuration file (default $TENANTD_CONFIG,\n"
	    "                      then " CONFIG_PATH " if present)\n"
	    "  -l, --listen ADDR   open this socket; default: the socket systemd\n"
	    "                      passes (LISTEN_FDS), else the one on fd 0\n"
	    "                      (spawn-fcgi, mod_fcgid), else CGI\n"
	    "  -w, --workers N     worker processes (default: one per core)\n"
	    "  -p, --pidfile FILE  write the master's pid here\n"
	    "  -L, --log FILE      write messages and request lines to FILE\n"
	    "                      (log.file), reopened on SIGHUP\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       the version\n"
	    "  -R, --routes        list every route served and its permission\n"
	    "  -P, --provisioner   run only the provisioning process (no socket,\n"
	    "                      no workers), e.g. as its own service\n"
	    "  -W, --webhooks      run only the webhook deliverer (no socket,\n"
	    "                      no workers), e.g. as its own service\n"
	    "  --nginx-location[=INCLUDE]\n"
	    "                      print an nginx location for the paths served\n"
	    "                      (surface.* settings), including INCLUDE\n"
	    "                      (default tenantd-fastcgi.conf)\n"
	    "Settings may also come from TENANTD_* environment variables,\n"
	    "e.g. TENANTD_DB_SOCKET, TENANTD_RATE_LIMIT_PER_MINUTE.\n");
}

static pid_t
spawn(const struct config *cfg, struct ratelimit *rl, int fd, long slot)
{
	pid_t	 pid;

	/* The child keeps the master's on_stop handler (no SA_RESTART). */
	if ((pid = fork()) != 0)
		return pid;
	sigprocmask(SIG_SETMASK, &unheld, NULL);
	metrics_attach(metrics, (size_t)slot);
	_exit(worker_run(cfg, rl, keys_shared, fd, &stopping));
}

static int
slot_of(const pid_t *pids, long n, pid_t pid)
{
	long	 i;

	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			return (int)i;
	return -1;
}

static void
stop_workers(pid_t *pids, long n)
{
	time_t	 deadline = time(NULL) + STOP_GRACE_S;
	long	 i, left;
	pid_t	 pid;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (left = n; left > 0 && time(NULL) < deadline; ) {
		if ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
			if ((i = slot_of(pids, n, pid)) >= 0) {
				pids[i] = 0;
				left--;
			}
			continue;
		}
		if (pid == -1 && errno == ECHILD)
			break;
		usleep(50000);
	}
	for (i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
}

/*
 * SIGHUP: the master reopens the log file and passes the signal on, since
 * each child holds the old file on its own fd 2 until it reopens it.
 */
static void
reopen_all(const pid_t *pids, long n)
{
	long	 i;

	logfile_reopen();
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGHUP);
}

/*
 * The processes beside the workers, each with no socket and its own
 * database connection, in the slots after the workers' when enabled.
 */
static const struct helper {
	size_t	 enabled;	/* offset of its switch in struct config */
	int	(*run)(const struct config *, volatile sig_atomic_t *);
} helpers[] = {
	{ offsetof(struct config, provision_enabled), provision_run },
	{ offsetof(struct config, webhooks_enabled), webhook_deliver_run },
};
#define NHELPERS	(sizeof(helpers) / sizeof(helpers[0]))

static int
helper_on(const struct config *cfg, size_t i)
{
	return *(const long *)(const void *)((const char *)cfg +
	    helpers[i].enabled) != 0;
}

static pid_t
spawn_helper(const struct config *cfg, int fd, const struct helper *h,
    long slot)
{
	struct sigaction sa;
	pid_t		 pid;

	if ((pid = fork()) != 0)
		return pid;
	sigprocmask(SIG_SETMASK, &unheld, NULL);
	metrics_attach(metrics, (size_t)slot);
	if (fd != -1)
		close(fd);
	/* Its database calls must not fail with EINTR on a reopen. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = logfile_on_hup;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	_exit(h->run(cfg, &stopping));
}

/*
 * What runs in slot i: a worker, or the helper kind[i] names; each
 * counts into the metrics slot of its number, the master into the last.
 * The master's signals are held except in sigsuspend(), so a stop or a
 * SIGHUP that arrives between the checks and the wait is not left
 * pending there.
 */
static pid_t
spawn_slot(const struct config *cfg, struct ratelimit *rl, int fd,
    const struct helper *kind, long slot)
{
	return kind == NULL ? spawn(cfg, rl, fd, slot) :
	    spawn_helper(cfg, fd, kind, slot);
}

static int
master_run(const struct config *cfg, struct ratelimit *rl, int fd)
{
	pid_t		 pids[WORKERS_MAX + NHELPERS], pid;
	time_t		 started[WORKERS_MAX + NHELPERS];
	const struct helper *kind[WORKERS_MAX + NHELPERS];
	struct sigaction sa;
	sigset_t	 held, waiting;
	long		 i, n = cfg->workers;
	size_t		 h;
	int		 st, slot;

	for (i = 0; i < n; i++)
		kind[i] = NULL;
	for (h = 0; h < NHELPERS; h++)
		if (helper_on(cfg, h))
			kind[n++] = &helpers[h];

	sigemptyset(&held);
	sigaddset(&held, SIGTERM);
	sigaddset(&held, SIGINT);
	sigaddset(&held, SIGHUP);
	sigaddset(&held, SIGCHLD);
	sigprocmask(SIG_BLOCK, &held, &unheld);
	waiting = unheld;
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGINT);
	sigdelset(&waiting, SIGHUP);
	sigdelset(&waiting, SIGCHLD);
	/* No SA_RESTART, so a blocked accept() in a child sees the stop. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = logfile_on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < n; i++) {
		pids[i] = spawn_slot(cfg, rl, fd, kind[i], i);
		started[i] = time(NULL);
	}
	while (!stopping) {
		if (logfile_reopen_due())
			reopen_all(pids, n);
		if ((pid = waitpid(-1, &st, WNOHANG)) <= 0) {
			sigsuspend(&waiting);
			continue;
		}
		if ((slot = slot_of(pids, n, pid)) < 0)
			continue;
		fprintf(stderr, "tenantd: worker %d %s %d; restarting\n",
		    (int)pid, WIFSIGNALED(st) ? "killed by signal" : "exited",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		/* A worker that dies at once would otherwise spin the CPU. */
		if (time(NULL) - started[slot] < 1)
			sleep(1);
		if (stopping)
			break;
		metrics_count(MC_WORKER_RESTARTS);
		pids[slot] = spawn_slot(cfg, rl, fd, kind[slot], slot);
		started[slot] = time(NULL);
	}
	sigprocmask(SIG_SETMASK, &unheld, NULL);
	stop_workers(pids, n);
	return 0;
}

static void
write_pidfile(const char *pidfile)
{
	FILE	*f;

	if (pidfile != NULL && (f = fopen(pidfile, "w")) != NULL) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

/*
 * --provisioner, --webhooks: the master supervises that process alone,
 * whatever provision.enabled and webhooks.enabled say (those settings are
 * for the master that serves requests), so it can run as a service of
 * its own.
 */
static int
helper_only(struct config *cfg, int provisioner, const char *pidfile)
{
	int	 rc;

	cfg->workers = 0;
	cfg->provision_enabled = provisioner;
	cfg->webhooks_enabled = !provisioner;
	write_pidfile(pidfile);
	fprintf(stderr, "tenantd %s: %s only\n", PACKAGE_VERSION,
	    provisioner ? "provisioning process" : "webhook deliverer");
	rc = master_run(cfg, NULL, -1);
	if (pidfile != NULL)
		unlink(pidfile);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "routes", no_argument, NULL, 'R' },
		{ "nginx-location", optional_argument, NULL, 'N' },
		{ "provisioner", no_argument, NULL, 'P' },
		{ "webhooks", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	struct config	 cfg;
	struct ratelimit *rl;
	const char	*cfgpath = config_path(), *pidfile = NULL;
	const char	*listen = NULL, *workers = NULL, *nginx_inc = NULL;
	const char	*logpath = NULL;
	char		 err[512];
	int		 ch, fd, rc, routes = 0, provisioner = 0, webhooks = 0;

	/* Before any jansson value exists: every block must carry its header. */
	json_arena_install();
	while ((ch = getopt_long(argc, argv, "c:l:w:p:L:hVRPW", longopts, NULL)) != -1)
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'l': listen = optarg; break;
		case 'w': workers = optarg; break;
		case 'p': pidfile = optarg; break;
		case 'L': logpath = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tenantd %s%s\n", PACKAGE_VERSION, TEST_HOOKS_NOTE);
			return 0;
		case 'R': routes = 1; break;
		case 'P': provisioner = 1; break;
		case 'W': webhooks = 1; break;
		case 'N': nginx_inc = optarg ? optarg : "tenantd-fastcgi.conf";
			break;
		default: usage(stderr); return 2;
		}
	config_defaults(&cfg);
	if (cfgpath != NULL &&
	    config_load_file(&cfg, cfgpath, err, sizeof(err)) == -1)
		goto bad;
	config_load_env(&cfg);
	if ((listen && config_set(&cfg, "listen", listen, err, sizeof(err))) ||
	    (workers && config_set(&cfg, "workers", workers, err, sizeof(err))) ||
	    (logpath && config_set(&cfg, "log.file", logpath, err, sizeof(err))) ||
	    config_finish(&cfg, err, sizeof(err)) == -1 ||
	    app_configure(&cfg, err, sizeof(err)) == -1)
		goto bad;
	if (routes || nginx_inc != NULL) {
		if (routes)
			app_print_routes(stdout);
		else
			app_print_locations(stdout, cfg.mount_prefix, nginx_inc);
		config_free(&cfg);
		return 0;
	}
	if (*cfg.log_file != '\0' && logfile_open(cfg.log_file) == -1)
		return 1;
	tenant_model_set_grace(cfg.expiry_grace_days * 86400);
	tenant_model_set_conn_policy(&(struct conn_policy){
	    .hosts = cfg.provision_db_hosts, .ports = cfg.provision_db_ports,
	    .name_pattern = cfg.provision_db_name_pattern,
	    .own_db = cfg.db_name });
	tenants_set_license_limit(cfg.license_max_tenants);
	tenants_set_activate_unprovisioned(
	    cfg.provision_allow_activate_unprovisioned != 0);
	tenants_set_deleted_days(cfg.retention_deleted_days);
	page_marks_setup(cfg.list_mark_every, cfg.list_mark_beyond,
	    (size_t)cfg.list_mark_memory);
	tenant_list_setup(cfg.list_scan_budget);
	if (provisioner || webhooks) {
		rc = helper_only(&cfg, provisioner, pidfile);
		config_free(&cfg);
		return rc;
	}
	if (*cfg.listen == '\0' && (fd = listener_inherited()) == -1) {
		rc = worker_cgi(&cfg);
		config_free(&cfg);
		return rc;
	}
	if (*cfg.listen != '\0' && (fd = listener_open(cfg.listen, (int)cfg.backlog,
	    (unsigned int)cfg.socket_mode)) == -1)
		return 1;
	write_pidfile(pidfile);
	if (*cfg.listen != '\0')
		fprintf(stderr, "tenantd %s: %ld workers on %s\n",
		    PACKAGE_VERSION, cfg.workers, cfg.listen);
	else
		fprintf(stderr, "tenantd %s: %ld workers on inherited fd %d\n",
		    PACKAGE_VERSION, cfg.workers, fd);
	if ((rl = ratelimit_new()) == NULL ||
	    (keys_shared = keycache_shared_open(&cfg)) == NULL ||
	    (metrics = metrics_open((size_t)cfg.workers + NHELPERS + 1)) == NULL) {
		fprintf(stderr, "tenantd: cannot map shared memory\n");
		return 1;
	}
	metrics_attach(metrics, (size_t)cfg.workers + NHELPERS);
	if (app_route_count() > METRICS_ROUTES)
		fprintf(stderr, "tenantd: warning: more routes than "
		    "METRICS_ROUTES; the last are counted as route \"(none)\"\n");
	rc = master_run(&cfg, rl, fd);
	metrics_close(metrics);
	keycache_shared_close();
	ratelimit_free(rl);
	if (pidfile != NULL)
		unlink(pidfile);
	config_free(&cfg);
	return rc;
bad:
	fprintf(stderr, "tenantd: %s\n", err);
	return 2;
}
