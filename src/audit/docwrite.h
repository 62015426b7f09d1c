/*
 * The audited write of a versioned document: the new version (store/vdoc.h)
 * and its audit record land in the same control-store transaction, so no
 * change to a flag, config, deploy, alert or silence exists without its
 * record in the hash chain. Every stage that keeps documents writes them
 * through here.
 */
#ifndef OODA_DOCWRITE_H
#define OODA_DOCWRITE_H

#include "audit/audit.h"
#include "core/buf.h"
#include "store/store.h"
#include "store/vdoc.h"

/*
 * Inside a store_write transaction: writes the version and its audit record
 * (w->action on w->target, before and after bodies, {"version":N} as
 * detail). Sets w->version. OODA_EPRECOND on a stale expect_version; any
 * error with the reason in err.
 */
int vdoc_put_tx(struct store *s, const struct audit_signer *sg, struct vdoc_write *w, struct buf *err);

/* A store_write of its own around vdoc_put_tx. OODA_EPRECOND on a stale expect_version. */
int vdoc_put(struct store *s, const struct audit_signer *sg, struct vdoc_write *w, struct buf *err);

#endif
