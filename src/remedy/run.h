/*
 * The lifecycle of a remediation run: the states, the events that move a
 * run between them, and the one transition table that says which moves
 * are allowed. Pure: no I/O, no clock. remedy.c persists a run after every
 * transition (a new version of its "remedy-run" document) and drives it;
 * the drawing of the machine is in run.c beside the table.
 */
#ifndef OODA_REMEDY_RUN_H
#define OODA_REMEDY_RUN_H

#include <stdbool.h>

enum run_state {
	RUN_PENDING,
	RUN_AWAITING_APPROVAL,
	RUN_RUNNING,
	RUN_VERIFYING,
	RUN_SUCCEEDED,
	RUN_FAILED,
	RUN_UNDOING,
	RUN_UNDONE,
	RUN_REFUSED,
	RUN_DRY_RUN,
	RUN_REJECTED,
	RUN_CANCELLED,
	RUN_N_STATES
};

enum run_event {
	EV_NEEDS_APPROVAL, /* mode approve, guardrails passed */
	EV_START,          /* mode auto, or approved */
	EV_REFUSE,         /* a guardrail or a precondition said no */
	EV_DRY_RUN,        /* mode dry-run: the plan is recorded, nothing acts */
	EV_REJECT,         /* an approver said no */
	EV_CANCEL,         /* a person stopped it before it acted */
	EV_STEPS_DONE,     /* every do step succeeded: check expect */
	EV_VERIFIED,       /* expect held within its timeout (or there is none) */
	EV_STEP_FAILED,    /* a step failed, or one was in flight at a crash and is not idempotent */
	EV_EXPECT_FAILED,  /* expect did not hold within its timeout */
	EV_UNDO,           /* failed with steps to undo */
	EV_UNDO_DONE,      /* every undo ran (some may have failed: recorded per step) */
	RUN_N_EVENTS
};

/* "awaiting-approval", …; "?" out of range. */
const char *run_state_name(enum run_state s);
const char *run_event_name(enum run_event e);

/* The state named s; -1 when none. */
int run_state_parse(const char *s);

/* Terminal: nothing moves the run any more (succeeded, undone, refused, dry-run, rejected, cancelled; failed without steps to undo stays failed). */
bool run_state_terminal(enum run_state s);

/* Whether a run in s is being driven by the engine (running, verifying, undoing): resumed after a crash. */
bool run_state_active(enum run_state s);

/* The state event moves from into; -1 when the table forbids the move. */
int run_transition(enum run_state from, enum run_event ev);

#endif
