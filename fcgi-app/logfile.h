/*
 * log.file (--log): stderr of every tenantd process goes to a file, for
 * servers that spawn tenantd with stderr on /dev/null (lighttpd
 * bin-path).  SIGHUP reopens it by name, so logrotate can move it away.
 */
#ifndef LOGFILE_H
#define LOGFILE_H

#include <stdbool.h>

/* Opens path for appending onto stderr; -1 after printing why. */
int	 logfile_open(const char *path);

/* The SIGHUP handler: marks a reopen as due. */
void	 logfile_on_hup(int);

/* Whether a SIGHUP has arrived since the last logfile_reopen(). */
bool	 logfile_reopen_due(void);

/*
 * Reopens the file opened by logfile_open() (nothing without one), and
 * says so in the new file.  The old file keeps what was written to it.
 */
void	 logfile_reopen(void);

#endif
