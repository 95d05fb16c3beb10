/*
 * The provisioning process: one per node, beside the workers or alone
 * (tenantd --provisioner), with a pool of provision.concurrency runners,
 * at most provision.per_account of them on one account's jobs.  It claims
 * jobs with SELECT ... FOR UPDATE SKIP LOCKED (so several nodes share the
 * queue), runs their steps, and records progress and failures on the
 * job.  Every step is idempotent, so a job resumes where it stopped.
 */
#ifndef PROVISION_H
#define PROVISION_H

#include <signal.h>

#include "config.h"
#include "db.h"

/* Runs until *stop becomes non-zero. */
int	 provision_run(const struct config *, volatile sig_atomic_t *stop);
/* Claims and runs at most one due job: 1 ran one, 0 none due, -1 error. */
int	 provision_once(struct db *, const struct config *);

/* Jobs by status, cluster-wide (for /metrics). */
enum job_state {
	JOB_PENDING,
	JOB_IN_PROGRESS,
	JOB_FAILED,
	JOB__MAX
};
extern const char *const provision_job_states[JOB__MAX];
/* Fills n with the count of jobs in each state; -1 on a database error. */
int	 provision_job_counts(struct db *, long long n[JOB__MAX]);

#endif
