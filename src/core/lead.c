/*
 * This process's leadership (lead.h): one atomic term for the process and
 * one fencing token per thread, copied from it at the start of each round
 * of leader-only work and read by the control store's writer.
 */
#include "core/lead.h"

#include <stdatomic.h>

/* 1 until the cluster loop says otherwise: a process with one node leads */
static atomic_int_least64_t current_term = 1;
static _Thread_local int64_t thread_fence;

int64_t lead_term(void)
{
	return atomic_load(&current_term);
}

void lead_set(int64_t term)
{
	atomic_store(&current_term, term > 0 ? term : 0);
}

int64_t lead_thread_enter(void)
{
	int64_t t = lead_term();
	thread_fence = t > 0 ? t : -1;
	return thread_fence;
}

void lead_thread_leave(void)
{
	thread_fence = 0;
}

int64_t lead_thread_fence(void)
{
	return thread_fence;
}
