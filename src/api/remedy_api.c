/*
 * The remedy stage over HTTP: the recipe catalogue (every recipe, or one
 * with its params and the steps of each variant). Thin adapters over
 * remedy/recipe.h; runs, policies and the automation switch come with the
 * stage's engine (docs/remediation.md).
 */
#include "api/api.h"
#include "api/handlers.h"
#include "remedy/recipe.h"

int api_recipes_list(struct http_request *req, struct http_response *res)
{
	(void)req;
	api_send_json(res, 200, json_pack("{s:o}", "recipes", recipe_list_json()));
	return 0;
}

int api_recipe_get(struct http_request *req, struct http_response *res)
{
	const char *name = http_param(req, "name");
	json_t *r = recipe_get_json(name);
	if (!r) {
		buf_addf(&req->err, "name: no recipe \"%s\" (GET /api/v1/recipes lists them)", name ? name : "");
		return OODA_ENOTFOUND;
	}
	api_send_json(res, 200, r);
	return 0;
}
