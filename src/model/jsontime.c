/* Times in JSON documents (see jsontime.h). */
#include "model/jsontime.h"
#include "core/time.h"

json_t *json_time(int64_t ns)
{
	char t[40];
	return json_string(ooda_time_format(ns, t, sizeof(t)));
}

json_t *json_time_or_null(int64_t ns)
{
	return ns <= 0 || ns == INT64_MAX ? json_null() : json_time(ns);
}
