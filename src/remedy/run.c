/*
 * The remediation run state machine (run.h) as one transition table. The
 * engine (remedy.c) asks run_transition() before every move and persists
 * the run after it, so a move the table does not list never happens and a
 * crash resumes from the last persisted state.
 *
 *                  EV_REFUSE                     EV_DRY_RUN
 *        refused <─────────── pending ──────────────────────> dry-run
 *                               │  │
 *        EV_NEEDS_APPROVAL      │  │ EV_START (mode auto)      EV_REJECT
 *            ┌──────────────────┘  │         ┌────────────────────────> rejected
 *            v                     │         │  EV_CANCEL
 *   awaiting-approval ─────────────┼─────────┴────────────────────────> cancelled
 *            │ EV_START (approved) │
 *            v                     v
 *          running ── EV_STEPS_DONE ──> verifying ── EV_VERIFIED ──> succeeded
 *            │                              │
 *            │ EV_STEP_FAILED               │ EV_EXPECT_FAILED
 *            v                              v
 *          failed <─────────────────────────┘
 *            │ EV_UNDO (steps ran)
 *            v
 *          undoing ── EV_UNDO_DONE ──> undone
 *
 * remedy.c: remedy_trigger decides pending → refused | dry-run |
 * awaiting-approval | running; remedy_decide makes approve (→ running) and
 * reject; remedy_cancel cancels a pending or awaiting run; run_drive makes
 * the moves from running onwards, and resumes a run found running,
 * verifying or undoing at start.
 */
#include "remedy/run.h"

#include <string.h>

static const char *const state_names[RUN_N_STATES] = {
	[RUN_PENDING] = "pending",	   [RUN_AWAITING_APPROVAL] = "awaiting-approval",
	[RUN_RUNNING] = "running",	   [RUN_VERIFYING] = "verifying",
	[RUN_SUCCEEDED] = "succeeded",	   [RUN_FAILED] = "failed",
	[RUN_UNDOING] = "undoing",	   [RUN_UNDONE] = "undone",
	[RUN_REFUSED] = "refused",	   [RUN_DRY_RUN] = "dry-run",
	[RUN_REJECTED] = "rejected",	   [RUN_CANCELLED] = "cancelled",
};

static const char *const event_names[RUN_N_EVENTS] = {
	[EV_NEEDS_APPROVAL] = "needs-approval", [EV_START] = "start",		  [EV_REFUSE] = "refuse",
	[EV_DRY_RUN] = "dry-run",		[EV_REJECT] = "reject",		  [EV_CANCEL] = "cancel",
	[EV_STEPS_DONE] = "steps-done",		[EV_VERIFIED] = "verified",	  [EV_STEP_FAILED] = "step-failed",
	[EV_EXPECT_FAILED] = "expect-failed",	[EV_UNDO] = "undo",		  [EV_UNDO_DONE] = "undo-done",
};

/* The allowed moves; every pair not listed is forbidden. */
static const struct {
	enum run_state from;
	enum run_event ev;
	enum run_state to;
} moves[] = {
	{ RUN_PENDING, EV_REFUSE, RUN_REFUSED },
	{ RUN_PENDING, EV_DRY_RUN, RUN_DRY_RUN },
	{ RUN_PENDING, EV_NEEDS_APPROVAL, RUN_AWAITING_APPROVAL },
	{ RUN_PENDING, EV_START, RUN_RUNNING },
	{ RUN_PENDING, EV_CANCEL, RUN_CANCELLED },
	{ RUN_AWAITING_APPROVAL, EV_START, RUN_RUNNING },
	{ RUN_AWAITING_APPROVAL, EV_REJECT, RUN_REJECTED },
	{ RUN_AWAITING_APPROVAL, EV_CANCEL, RUN_CANCELLED },
	{ RUN_AWAITING_APPROVAL, EV_REFUSE, RUN_REFUSED }, /* a guardrail checked again at approval */
	{ RUN_RUNNING, EV_STEPS_DONE, RUN_VERIFYING },
	{ RUN_RUNNING, EV_STEP_FAILED, RUN_FAILED },
	{ RUN_VERIFYING, EV_VERIFIED, RUN_SUCCEEDED },
	{ RUN_VERIFYING, EV_EXPECT_FAILED, RUN_FAILED },
	{ RUN_FAILED, EV_UNDO, RUN_UNDOING },
	{ RUN_UNDOING, EV_UNDO_DONE, RUN_UNDONE },
};

const char *run_state_name(enum run_state s)
{
	return (unsigned)s < RUN_N_STATES ? state_names[s] : "?";
}

const char *run_event_name(enum run_event e)
{
	return (unsigned)e < RUN_N_EVENTS ? event_names[e] : "?";
}

int run_state_parse(const char *s)
{
	for (int i = 0; s && i < RUN_N_STATES; i++)
		if (!strcmp(s, state_names[i]))
			return i;
	return -1;
}

bool run_state_terminal(enum run_state s)
{
	return s == RUN_SUCCEEDED || s == RUN_UNDONE || s == RUN_REFUSED || s == RUN_DRY_RUN || s == RUN_REJECTED ||
	       s == RUN_CANCELLED || s == RUN_FAILED;
}

bool run_state_active(enum run_state s)
{
	return s == RUN_RUNNING || s == RUN_VERIFYING || s == RUN_UNDOING;
}

int run_transition(enum run_state from, enum run_event ev)
{
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (moves[i].from == from && moves[i].ev == ev)
			return (int)moves[i].to;
	return -1;
}
