/*
 * The recipe catalogue: named, parameterised remediation blocks
 * (restart-instance, rollback-last-deploy, disable-flag, open-circuit,
 * shed-load, scale-out, drain-node, clear-queue) with a variant per
 * platform — sim (ooda-sim's admin endpoints), systemd (systemctl),
 * kubernetes (kubectl) and ooda (the flag and rollback actions, through
 * ooda's own change stage). A recipe
 * expands into ordinary do steps (action.h), so a dry-run shows the exact
 * argv or URL and the engine runs nothing a policy could not spell out.
 */
#ifndef OODA_REMEDY_RECIPE_H
#define OODA_REMEDY_RECIPE_H

#include <jansson.h>
#include <stdbool.h>

#include "core/buf.h"

/*
 * Expands recipe ref ({name, variant, params}) into a new array of steps
 * (*out, caller owns). path names fields in err. Returns 0, or OODA_EINVAL
 * (unknown recipe, variant the recipe lacks, missing or bad param) or
 * OODA_ENOTFOUND for an unknown name, with "PATH.field: reason" in err.
 */
int recipe_expand(const json_t *ref, const char *path, json_t **out, struct buf *err);

/*
 * The catalogue as JSON: [{name, description, params:[{name, description,
 * required}], variants:[{name, steps, describe}]}]; describe holds each
 * step as a dry-run shows it, with the params still as {name}.
 */
json_t *recipe_list_json(void);

/* One recipe as in recipe_list_json; NULL when unknown. */
json_t *recipe_get_json(const char *name);

#endif
