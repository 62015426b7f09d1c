/*
 * Unit tests for the package URL parser (src/ingest/purl.c): the purl
 * spec's own shapes (oci, maven, npm scope, golang, github with subpath),
 * percent-decoding, qualifier rules, and refusals with their limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "ingest/purl.h"

static const char *qual(const struct purl *p, const char *key)
{
	for (size_t i = 0; i < p->n_q; i++)
		if (!strcmp(p->q[i].key, key))
			return p->q[i].value;
	return NULL;
}

#define NONE "(none)"
static void str_eq(const char *got, const char *want)
{
	assert_string_equal(got ? got : NONE, want);
}

static void test_purl_valid(void **state)
{
	(void)state;
	static const struct {
		const char *in, *type, *ns, *name, *version, *subpath;
	} cases[] = {
		{ "pkg:oci/myapp@sha256%3A0b31b1c02ff4?repository_url=ghcr.io/acme/myapp&tag=v2", "oci", NONE, "myapp",
		  "sha256:0b31b1c02ff4", NONE },
		{ "pkg:maven/org.apache.commons/io@1.3.4", "maven", "org.apache.commons", "io", "1.3.4", NONE },
		{ "pkg:npm/%40angular/animation@12.3.1", "npm", "@angular", "animation", "12.3.1", NONE },
		{ "pkg:golang/google.golang.org/genproto#googleapis/api/annotations", "golang", "google.golang.org",
		  "genproto", NONE, "googleapis/api/annotations" },
		{ "PKG://GitHub/package-url//purl-spec/@244fd47e07d1004#/./everybody/../loves/dogs/", "github",
		  "package-url", "purl-spec", "244fd47e07d1004", "everybody/loves/dogs" },
		{ "pkg:docker/customer/dockerimage@sha256%3A244fd47e07d10?repository_url=gcr.io", "docker", "customer",
		  "dockerimage", "sha256:244fd47e07d10", NONE },
		{ "pkg:generic/a%20b%2Fc", "generic", NONE, "a b/c", NONE, NONE },
		{ "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie&empty=", "deb", "debian", "curl", "7.50.3-1", NONE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct purl p;
		struct buf err = BUF_INIT;
		int rc = purl_parse(cases[i].in, strlen(cases[i].in), &p, &err);
		if (rc)
			fail_msg("%s: %s", cases[i].in, err.data);
		str_eq(p.type, cases[i].type);
		str_eq(p.namespace, cases[i].ns);
		str_eq(p.name, cases[i].name);
		str_eq(p.version, cases[i].version);
		str_eq(p.subpath, cases[i].subpath);
		buf_release(&err);
	}
	struct purl p;
	const char *in = "pkg:oci/myapp@sha256%3A0b?Repository_URL=ghcr.io%2Facme&tag=v2&empty=";
	struct buf err = BUF_INIT;
	assert_int_equal(purl_parse(in, strlen(in), &p, &err), 0);
	buf_release(&err);
	assert_int_equal(p.n_q, 2);
	assert_string_equal(qual(&p, "repository_url"), "ghcr.io/acme");
	assert_string_equal(qual(&p, "tag"), "v2");
	assert_null(qual(&p, "empty"));
}

static void test_purl_invalid(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		const char *err;
	} cases[] = {
		{ "", OODA_EINVAL, "pkg:" },
		{ "oci/myapp@1", OODA_EINVAL, "pkg:" },
		{ "pkg:myapp", OODA_EINVAL, "no name" },
		{ "pkg:/myapp", OODA_EINVAL, "no name" },
		{ "pkg:oci/", OODA_EINVAL, "no name" },
		{ "pkg:oci/@1.0", OODA_EINVAL, "no name" },
		{ "pkg:1oci/x", OODA_EINVAL, "type" },
		{ "pkg:o_ci/x", OODA_EINVAL, "type" },
		{ "pkg:oci/x@1%2", OODA_EINVAL, "escape in the version" },
		{ "pkg:oci/x%zz", OODA_EINVAL, "escape in the name" },
		{ "pkg:oci/x%00", OODA_EINVAL, "%00" },
		{ "pkg:oci/x?a=1&A=2", OODA_EINVAL, "given twice" },
		{ "pkg:oci/x?a", OODA_EINVAL, "without '='" },
		{ "pkg:oci/x?=1", OODA_EINVAL, "empty key" },
		{ "pkg:oci/x?a b=1", OODA_EINVAL, "qualifier key" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct purl p;
		struct buf err = BUF_INIT;
		int rc = purl_parse(cases[i].in, strlen(cases[i].in), &p, &err);
		if (rc != cases[i].rc || !err.data || !strstr(err.data, cases[i].err))
			fail_msg("%s: rc %d, err %s", cases[i].in, rc, err.data ? err.data : "");
		buf_release(&err);
	}
}

static void test_purl_limits(void **state)
{
	(void)state;
	struct purl p;
	struct buf err = BUF_INIT;
	char big[PURL_MAX_LEN + 2];
	memset(big, 'a', sizeof(big));
	memcpy(big, "pkg:oci/", 8);
	assert_int_equal(purl_parse(big, PURL_MAX_LEN, &p, &err), 0);
	assert_int_equal(strlen(p.name), PURL_MAX_LEN - 8);
	assert_int_equal(purl_parse(big, PURL_MAX_LEN + 1, &p, &err), OODA_ETOOBIG);
	buf_reset(&err);

	/* the most qualifiers, each with a one-byte value, fill the store exactly as sized */
	struct buf q = BUF_INIT;
	buf_adds(&q, "pkg:t/n?");
	for (int i = 0; i < PURL_MAX_QUALIFIERS; i++)
		buf_addf(&q, "%sk%d=v", i ? "&" : "", i);
	assert_int_equal(purl_parse(q.data, q.len, &p, &err), 0);
	assert_int_equal(p.n_q, PURL_MAX_QUALIFIERS);
	buf_adds(&q, "&one=more");
	assert_int_equal(purl_parse(q.data, q.len, &p, &err), OODA_ETOOBIG);
	assert_non_null(strstr(err.data, "qualifiers"));
	const char nul[] = "pkg:oci/a\0b";
	assert_int_equal(purl_parse(nul, sizeof(nul) - 1, &p, &err), OODA_EINVAL);
	buf_release(&q);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_purl_valid),
		cmocka_unit_test(test_purl_invalid),
		cmocka_unit_test(test_purl_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
