/*
 * Force-included into every ooda translation unit by the build: the C
 * library headers whose functions banned.h forbids come first, so that their
 * declarations are seen before the bans take effect; xalloc.h then gives every
 * file the aborting allocators that the allocation policy asks for.
 */
#ifndef OODA_PRELUDE_H
#define OODA_PRELUDE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdarg.h>

#include "core/banned.h"
#include "core/xalloc.h"

#endif
