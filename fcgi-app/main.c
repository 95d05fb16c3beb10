/*
 * tenantd: the FastCGI daemon.  A master process opens (or inherits on fd
 * 0) the listening socket, pre-forks the workers, restarts any that dies
 * and stops them all on SIGTERM.  Each worker owns one database
 * connection and serves requests one at a time.
 */
#include "autoconf.h"
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "accesslog.h"
#include "app.h"
#include "codec_xml.h"
#include "ctx.h"
#include "keycache.h"
#include "page_marks.h"
#include "provision.h"
#include "tenant_model.h"

#define WORKERS_MAX	256
#define STOP_GRACE_S	10

/* The buffers a worker reuses for every request. */
struct worker {
	const struct config	*cfg;
	struct db		*db;
	struct ratelimit	*rl;
	struct buf		 body;
	struct buf		 headers;
	struct buf		 scratch;
	struct buf		 out;
};

static volatile sig_atomic_t	 stopping;
static struct keycache_shared	*keys_shared;	/* mapped before fork */

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
	    "  -c, --config FILE   configuration file (default $TENANTD_CONFIG,\n"
	    "                      then /etc/tenantd/tenantd.conf if present)\n"
	    "  -l, --listen ADDR   open this socket; default: the socket on fd 0\n"
	    "                      (spawn-fcgi, systemd, mod_fcgid)\n"
	    "  -w, --workers N     worker processes (default: one per core)\n"
	    "  -p, --pidfile FILE  write the master's pid here\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       the version\n"
	    "  -R, --routes        list every route and its permission\n"
	    "Settings may also come from TENANTD_* environment variables,\n"
	    "e.g. TENANTD_DB_SOCKET, TENANTD_RATE_LIMIT_PER_MINUTE.\n");
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char internal_error[] =
    "Status: 500 Internal Server Error\r\n"
    "Content-Type: application/problem+json\r\n\r\n"
    "{\"type\":\"urn:tenantd:problem:internal\",\"title\":\"Internal Server "
    "Error\",\"status\":500,\"code\":\"internal\"}";

static int
fcgi_body(void *arg, char *buf, int len)
{
	return FCGX_GetStr(buf, len, arg);
}

static int
stdin_body(void *arg, char *buf, int len)
{
	(void)arg;
	return (int)fread(buf, 1, (size_t)len, stdin);
}

/*
 * One request from envp and in, its whole response handed to out(arg,
 * bytes, len): the FastCGI stream, or stdout in CGI mode.
 */
static void
serve(struct worker *w, char **envp, const struct body_source *in,
    void (*out)(void *, const char *, size_t), void *arg)
{
	struct request	 req;
	struct response	 resp;
	struct ctx	 c;
	double		 t0 = now_ms();
	int		 early;

	early = request_read(&req, envp, in, w->cfg, &w->body);
	response_init(&resp, &w->headers);
	memset(&c, 0, sizeof(c));
	c.cfg = w->cfg;
	c.req = &req;
	c.resp = &resp;
	c.db = w->db;
	c.rl = w->rl;
	app_handle(&c, early);
	if (response_serialize(&resp, c.out_fmt, req.request_id,
	    req.method == HTTP_HEAD, &w->scratch, &w->out) == -1) {
		resp.status = 500;
		out(arg, internal_error, sizeof(internal_error) - 1);
	} else
		out(arg, w->out.data, w->out.len);
	if (w->cfg->log_requests)
		accesslog_write(&c, now_ms() - t0, w->out.len);
	json_decref(c.input);
	response_clear(&resp);
}

static void
fcgi_out(void *arg, const char *p, size_t n)
{
	FCGX_PutStr(p, (int)n, arg);
}

static void
stdout_out(void *arg, const char *p, size_t n)
{
	(void)arg;
	fwrite(p, 1, n, stdout);
	fflush(stdout);
}

static struct db *
worker_db(const struct config *cfg)
{
	struct db_params p = {
		.host = cfg->db_host, .port = (unsigned)cfg->db_port,
		.socket = cfg->db_socket, .user = cfg->db_user,
		.password = cfg->db_password, .name = cfg->db_name,
		.connect_timeout = (unsigned)cfg->db_connect_timeout,
	};
	struct db	*db;

	if ((db = db_new(&p)) != NULL && db_connect(db) == -1)
		/* not fatal: every request tries again */
		fprintf(stderr, "tenantd[%d]: database: %s\n", (int)getpid(),
		    db_error(db));
	return db;
}

static void
worker_free(struct worker *w)
{
	db_free(w->db);
	buf_free(&w->body);
	buf_free(&w->headers);
	buf_free(&w->scratch);
	buf_free(&w->out);
}

/*
 * CGI mode (mod_cgid, lighttpd mod_cgi): one request from the environment
 * and stdin.  libfcgi's accept has no CGI fallback, so this is checked
 * first.
 */
static int
cgi_run(const struct config *cfg)
{
	extern char		**environ;
	struct worker		 w;
	struct body_source	 in = { stdin_body, NULL };

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	codec_xml_init();
	if ((w.db = worker_db(cfg)) == NULL)
		return 1;
	serve(&w, environ, &in, stdout_out, NULL);
	worker_free(&w);
	return 0;
}

static int
worker_run(const struct config *cfg, struct ratelimit *rl, int fd)
{
	struct worker	 w;
	struct body_source in = { fcgi_body, NULL };
	FCGX_Request	 fr;
	sigset_t	 term, old;

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.rl = rl;
	codec_xml_init();
	keycache_attach(keys_shared, cfg->auth_cache_ttl);
	if ((w.db = worker_db(cfg)) == NULL)
		return 1;
	/* Without FAIL_ACCEPT_ON_INTR libfcgi retries accept() after SIGTERM. */
	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fr, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		return 1;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	/* Requests run with SIGTERM held, so a stop never cuts one short. */
	while (!stopping && FCGX_Accept_r(&fr) >= 0) {
		sigprocmask(SIG_BLOCK, &term, &old);
		in.arg = fr.in;
		serve(&w, fr.envp, &in, fcgi_out, fr.out);
		/*
		 * One request per connection, whatever FCGI_KEEP_CONN says: a
		 * libfcgi worker holds one connection at a time, and waiting on
		 * an idle kept-alive one would stall new connections queued
		 * behind it.
		 */
		fr.keepConnection = 0;
		FCGX_Finish_r(&fr);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	FCGX_Free(&fr, 1);
	worker_free(&w);
	return 0;
}

static int
open_listener(const struct config *cfg)
{
	const char	*addr = cfg->listen;
	int		 fd;

	if (*addr == '\0')
		return 0;	/* FCGI_LISTENSOCK_FILENO */
	if (strncmp(addr, "unix:", 5) == 0) {
		addr += 5;
		if (unlink(addr) == -1 && errno != ENOENT) {
			fprintf(stderr, "tenantd: %s: %s\n", addr, strerror(errno));
			return -1;
		}
	}
	if ((fd = FCGX_OpenSocket(addr, (int)cfg->backlog)) < 0) {
		fprintf(stderr, "tenantd: cannot listen on %s\n", cfg->listen);
		return -1;
	}
	/* nginx workers run as another user (nobody): let them connect. */
	if (strncmp(cfg->listen, "unix:", 5) == 0 &&
	    chmod(addr, (mode_t)cfg->socket_mode) == -1) {
		fprintf(stderr, "tenantd: chmod %s: %s\n", addr, strerror(errno));
		return -1;
	}
	return fd;
}

static pid_t
spawn(const struct config *cfg, struct ratelimit *rl, int fd)
{
	pid_t	 pid;

	/* The child keeps the master's on_stop handler (no SA_RESTART). */
	if ((pid = fork()) != 0)
		return pid;
	_exit(worker_run(cfg, rl, fd));
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

/* The provisioning process: no socket, its own database connection. */
static pid_t
spawn_provisioner(const struct config *cfg, int fd)
{
	pid_t	 pid;

	if ((pid = fork()) != 0)
		return pid;
	close(fd);
	_exit(provision_run(cfg, &stopping));
}

/*
 * Slots 0..workers-1 are the workers; the slot after them, when
 * provisioning is enabled, is the provisioning process.
 */
static int
master_run(const struct config *cfg, struct ratelimit *rl, int fd)
{
	pid_t		 pids[WORKERS_MAX + 1], pid;
	time_t		 started[WORKERS_MAX + 1];
	struct sigaction sa;
	long		 i, n = cfg->workers + (cfg->provision_enabled ? 1 : 0);
	int		 st, slot;

	/* No SA_RESTART, so a blocked accept() or waitpid() sees the stop. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < n; i++) {
		pids[i] = i < cfg->workers ? spawn(cfg, rl, fd) :
		    spawn_provisioner(cfg, fd);
		started[i] = time(NULL);
	}
	while (!stopping) {
		pid = waitpid(-1, &st, 0);
		if (pid == -1)
			continue;	/* EINTR: re-check stopping */
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
		pids[slot] = slot < cfg->workers ? spawn(cfg, rl, fd) :
		    spawn_provisioner(cfg, fd);
		started[slot] = time(NULL);
	}
	stop_workers(pids, n);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "routes", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct config	 cfg;
	struct ratelimit *rl;
	const char	*cfgpath = getenv("TENANTD_CONFIG"), *pidfile = NULL;
	const char	*listen = NULL, *workers = NULL;
	char		 err[512];
	FILE		*f;
	int		 ch, fd, rc;

	while ((ch = getopt_long(argc, argv, "c:l:w:p:hVR", longopts, NULL)) != -1)
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'l': listen = optarg; break;
		case 'w': workers = optarg; break;
		case 'p': pidfile = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tenantd %s\n", PACKAGE_VERSION); return 0;
		case 'R': app_print_routes(stdout); return 0;
		default: usage(stderr); return 2;
		}
	config_defaults(&cfg);
	if (cfgpath == NULL && access("/etc/tenantd/tenantd.conf", R_OK) == 0)
		cfgpath = "/etc/tenantd/tenantd.conf";
	if (cfgpath != NULL &&
	    config_load_file(&cfg, cfgpath, err, sizeof(err)) == -1)
		goto bad;
	config_load_env(&cfg);
	if ((listen && config_set(&cfg, "listen", listen, err, sizeof(err))) ||
	    (workers && config_set(&cfg, "workers", workers, err, sizeof(err))) ||
	    config_finish(&cfg, err, sizeof(err)) == -1)
		goto bad;
	tenant_model_set_grace(cfg.expiry_grace_days * 86400);
	page_marks_setup(cfg.list_mark_every, cfg.list_mark_beyond,
	    (size_t)cfg.list_mark_memory);
	if (*cfg.listen == '\0' && FCGX_IsCGI()) {
		rc = cgi_run(&cfg);
		config_free(&cfg);
		return rc;
	}
	if ((fd = open_listener(&cfg)) < 0)
		return 1;
	if (pidfile != NULL && (f = fopen(pidfile, "w")) != NULL) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	fprintf(stderr, "tenantd %s: %ld workers on %s\n", PACKAGE_VERSION,
	    cfg.workers, *cfg.listen ? cfg.listen : "fd 0");
	if ((rl = ratelimit_new()) == NULL ||
	    (keys_shared = keycache_shared_open(&cfg, 1)) == NULL) {
		fprintf(stderr, "tenantd: cannot map shared memory\n");
		return 1;
	}
	rc = master_run(&cfg, rl, fd);
	ratelimit_free(rl);
	if (pidfile != NULL)
		unlink(pidfile);
	config_free(&cfg);
	return rc;
bad:
	fprintf(stderr, "tenantd: %s\n", err);
	return 2;
}
