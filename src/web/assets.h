/*
 * The dashboard's files, embedded in the binary at build time: web/meson.build
 * runs scripts/embed-assets over web/ (and uPlot from web/node_modules) and
 * compiles the generated table. Nothing is read from disk at run time.
 */
#ifndef OODA_WEB_ASSETS_H
#define OODA_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *name;          /* "index.html", "app.js", "vendor/uplot.js" */
	const char *content_type;
	const unsigned char *data; /* the file as served without compression */
	size_t len;
	const unsigned char *gz;   /* the same bytes, gzip level 9 */
	size_t gz_len;
	const char *etag;          /* hex of the content hash, without quotes */
};

/* Terminated by an entry whose name is NULL. */
extern const struct web_asset web_assets[];
/* Hash of every asset: the shell loads /assets/<web_build_id>/NAME. */
extern const char web_build_id[];

#endif
