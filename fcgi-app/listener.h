/* The FastCGI listening socket: opened by tenantd, or inherited on fd 0. */
#ifndef LISTENER_H
#define LISTENER_H

/*
 * Opens "unix:PATH" or "/PATH" (mode applied to the socket file, so nginx
 * workers running as another user can connect), "HOST:PORT" or ":PORT".
 * Returns the descriptor, or -1 after printing why.
 */
int	 listener_open(const char *addr, int backlog, unsigned int mode);

/* Whether fd 0 is a listening socket (FastCGI) rather than CGI's stdin. */
int	 listener_inherited(void);

#endif
