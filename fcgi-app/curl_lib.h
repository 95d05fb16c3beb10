/*
 * The libcurl functions the webhook deliverer calls, loaded when it
 * starts (dlopen) rather than linked: libcurl brings a dozen libraries
 * (GnuTLS, Kerberos, LDAP, libssh2, ICU, ...) whose constructors run and
 * whose pages count in the resident memory of every process that has them
 * mapped, and only the deliverer sends HTTP.  Linked, they cost each
 * worker about 1.3 MB.
 */
#ifndef CURL_LIB_H
#define CURL_LIB_H

#include <curl/curl.h>

struct curl_lib {
	CURLcode	 (*global_init)(long);
	void		 (*global_cleanup)(void);
	CURL		*(*easy_init)(void);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_perform)(CURL *);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char	*(*easy_strerror)(CURLcode);
	void		 (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
};

extern struct curl_lib	 curl_lib;

/* Loads libcurl and curl_global_init()s it: 0, or -1 with why in err. */
int		 curl_lib_load(char *err, size_t len);

#endif
