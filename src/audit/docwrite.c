/*
 * Audited document writes (see docwrite.h): the store writes the version,
 * then the audit record goes into the chain inside the same transaction.
 */
#include "audit/docwrite.h"

int vdoc_put_tx(struct store *s, const struct audit_signer *sg, struct vdoc_write *w, struct buf *err)
{
	struct vdoc before = { 0 };
	int rc = vdoc_write_tx(s, w, &before, err);
	if (!rc) {
		bool have = before.kind != NULL;
		struct audit_entry e = { .actor = w->actor, .action = w->action, .target = w->target,
					 .before = have && !before.deleted ? before.body : NULL,
					 .before_len = have && !before.deleted ? before.body_len : 0,
					 .after = w->deleted ? NULL : w->body, .after_len = w->deleted ? 0 : w->body_len,
					 .rationale = w->rationale ? w->rationale : "" };
		char detail[64];
		snprintf(detail, sizeof(detail), "{\"version\":%lld}", (long long)w->version);
		e.detail = detail;
		rc = audit_append(s, sg, &e, err);
	}
	vdoc_release(&before);
	return rc;
}

struct put_ctx {
	const struct audit_signer *sg;
	struct vdoc_write *w;
};

static int put_tx(struct store *s, void *ctx, struct buf *err)
{
	struct put_ctx *p = ctx;
	return vdoc_put_tx(s, p->sg, p->w, err);
}

int vdoc_put(struct store *s, const struct audit_signer *sg, struct vdoc_write *w, struct buf *err)
{
	struct put_ctx p = { sg, w };
	return store_write(s, put_tx, &p, err);
}
