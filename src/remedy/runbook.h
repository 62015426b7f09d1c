/*
 * Runbooks as documents: a Markdown text with a small front matter and a
 * list of steps, parsed into JSON the remedy stage stores as versioned
 * "runbook" documents (runbook_run.h walks them). A step is a manual
 * checklist item ("- [ ] Check the dashboard") or an automated one that
 * names a recipe ("- [auto] restart-instance/sim service=URL") or holds
 * one action step in a fenced "step" block of JSON. Pure: no I/O; every
 * size is bounded, so a hostile text costs at most RUNBOOK_MAX_BYTES of
 * work. The convention is written out in docs/remediation.md.
 */
#ifndef OODA_REMEDY_RUNBOOK_H
#define OODA_REMEDY_RUNBOOK_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

#define RUNBOOK_MAX_BYTES (64 * 1024)  /* the Markdown text */
#define RUNBOOK_MAX_STEPS 64
#define RUNBOOK_MAX_LINE 1024           /* a step's line */
#define RUNBOOK_MAX_PARAMS 16           /* key=value pairs of an automated step */
#define RUNBOOK_MAX_LIST 32             /* services, templates */

/*
 * Parses text (len bytes, not NUL-terminated necessarily) into *out
 * (caller owns): {name, title, services:[…], templates:[…], steps:[{n,
 * kind:"manual"|"auto", text, step?}], source}. step is what the remedy
 * engine runs: {"recipe": {name, variant, params}} or the fenced action
 * step. Checks the shape only (recipes and actions are checked by
 * remedy_steps_plan). Returns 0, or OODA_EINVAL with "line N: reason" or
 * "FIELD: reason" in err.
 */
int runbook_parse(const char *text, size_t len, json_t **out, struct buf *err);

#endif
