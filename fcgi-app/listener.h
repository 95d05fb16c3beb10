/*
 * The FastCGI listening socket: opened by tenantd, or inherited from
 * systemd (LISTEN_FDS, fd 3) or on fd 0 (spawn-fcgi, mod_fcgid, lighttpd).
 */
#ifndef LISTENER_H
#define LISTENER_H

/*
 * Opens "unix:PATH" or "/PATH" (mode applied to the socket file, so nginx
 * workers running as another user can connect), "HOST:PORT" or ":PORT".
 * Returns the descriptor, or -1 after printing why.
 */
int	 listener_open(const char *addr, int backlog, unsigned int mode);

/*
 * The inherited listening socket: systemd's, else fd 0 when it is one
 * (FastCGI) rather than CGI's stdin; -1 when there is none.
 */
int	 listener_inherited(void);

#endif
