/*
 * The postmortem draft: a blameless Markdown document a team can review as
 * is, rendered from what ooda already knows about an incident — the incident
 * document, its timeline, its hypotheses, the triage summary and the action
 * items. Pure (JSON in, Markdown out): the incidents stage stores the result
 * as an artifact and the CLI prints it.
 *
 * Sections, in order: title, Summary, Impact, Timeline (relative to onset and
 * absolute UTC), Root cause (the confirmed hypotheses: the most confident is
 * the root cause, the others contributing factors; rejected ones are listed
 * as ruled out), Detection and response (time to detect, acknowledge,
 * mitigate, resolve), What went well, What went wrong (derived from the
 * facts: detected by monitoring or by a person, notification delivered,
 * runbook present, how fast it was acknowledged), Action items. Wherever a
 * human must write, the draft says so with a line starting
 * POSTMORTEM_TODO ("> ✍ **To write:** …").
 */
#ifndef OODA_POSTMORTEM_H
#define OODA_POSTMORTEM_H

#include <jansson.h>

#include "core/buf.h"

/* The marker of every placeholder a human must fill in. */
#define POSTMORTEM_TODO "> ✍ **To write:**"

/*
 * Appends the draft to md. incident: the incident document (required).
 * timeline: {"entries":[…]} or the array of entries; hypotheses:
 * {"hypotheses":[…]} or the array; summary: the triage summary
 * (triage.h); action_items: {"actions":[…]} or the array of action-item
 * documents (actions.h). Any of the last four may be NULL. Returns 0, or
 * OODA_EINVAL with the reason in err when incident is not an object.
 */
int postmortem_render(const json_t *incident, const json_t *timeline, const json_t *hypotheses, const json_t *summary,
		      const json_t *action_items, struct buf *md, struct buf *err);

#endif
