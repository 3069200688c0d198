/* nofile: the open-file limit. Each HTTP connection, parked request and event stream holds a
 * descriptor, and the soft limit (often 1024) is below what HTTP_CONNECTION_LIMIT allows. */
#ifndef CQ_NOFILE_H
#define CQ_NOFILE_H

/* Raises the soft RLIMIT_NOFILE to the hard limit and logs both ("raised open-file limit"), or
 * logs a warning if it could not. Returns the soft limit in force afterwards (-1: unknown). */
long nofile_raise(void);

#endif
