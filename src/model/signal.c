/*
 * Severity names shared by every detector and the alerting core.
 */
#include "model/signal.h"
#include "core/error.h"

const char *alert_severity_name(enum alert_severity s)
{
	return s == SEVERITY_PAGE ? "page" : s == SEVERITY_TICKET ? "ticket" : "info";
}

int alert_severity_parse(const char *s, enum alert_severity *out)
{
	if (!s)
		return OODA_EINVAL;
	if (!strcasecmp(s, "page") || !strcasecmp(s, "critical"))
		*out = SEVERITY_PAGE;
	else if (!strcasecmp(s, "ticket") || !strcasecmp(s, "warning"))
		*out = SEVERITY_TICKET;
	else if (!strcasecmp(s, "info") || !strcasecmp(s, "none"))
		*out = SEVERITY_INFO;
	else
		return OODA_EINVAL;
	return 0;
}
