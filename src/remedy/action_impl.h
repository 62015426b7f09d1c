/*
 * Rows of the action table (action.c) defined in other files of the
 * remedy stage: the actions on what the change stage owns
 * (action_change.c). Not for use outside src/remedy.
 */
#ifndef OODA_REMEDY_ACTION_IMPL_H
#define OODA_REMEDY_ACTION_IMPL_H

#include "remedy/action.h"

extern const struct remedy_action action_flag, action_config, action_rollback;

#endif
