#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "curl_lib.h"

struct curl_lib	 curl_lib;

/* Each symbol and where its address goes. */
static const struct {
	const char	*name;
	size_t		 off;
} syms[] = {
	{ "curl_global_init", offsetof(struct curl_lib, global_init) },
	{ "curl_global_cleanup", offsetof(struct curl_lib, global_cleanup) },
	{ "curl_easy_init", offsetof(struct curl_lib, easy_init) },
	{ "curl_easy_setopt", offsetof(struct curl_lib, easy_setopt) },
	{ "curl_easy_perform", offsetof(struct curl_lib, easy_perform) },
	{ "curl_easy_getinfo", offsetof(struct curl_lib, easy_getinfo) },
	{ "curl_easy_strerror", offsetof(struct curl_lib, easy_strerror) },
	{ "curl_easy_cleanup", offsetof(struct curl_lib, easy_cleanup) },
	{ "curl_slist_append", offsetof(struct curl_lib, slist_append) },
	{ "curl_slist_free_all", offsetof(struct curl_lib, slist_free_all) },
};

int
curl_lib_load(char *err, size_t len)
{
	void	*h, *f;
	size_t	 i;

	/* The soname of every libcurl since 7.16 (the ABI tenantd is built for). */
	if ((h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, len, "%s", dlerror());
		return -1;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		if ((f = dlsym(h, syms[i].name)) == NULL) {
			snprintf(err, len, "libcurl.so.4: no %s", syms[i].name);
			return -1;
		}
		/* POSIX: a function's address may be kept as a void *. */
		memcpy((char *)&curl_lib + syms[i].off, &f, sizeof(f));
	}
	if (curl_lib.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, len, "curl_global_init failed");
		return -1;
	}
	return 0;
}
